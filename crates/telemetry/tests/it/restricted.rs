//! The scan's restricted reader against the general one: on generated logs with planted
//! values and on hostile lines (escapes in keys and values, nested, dotted and duplicate keys,
//! unicode, odd numbers, truncated lines, bytes that are not UTF-8, more values than a record
//! holds), for many sets of needed fields, the restricted reader refuses exactly the lines the
//! general one refuses, with the same message, and its records hold exactly the general
//! records' values of the needed fields, with the same time.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use telemetry::sample::{Rng, Spec, generate, standard_plants};
use telemetry::{Field, FieldSet, Format, Reader, Record};

type Seen = Result<Option<(Vec<(Field, String, Vec<u8>)>, Option<i64>)>, String>;

fn read(r: &mut Reader, line: &[u8], keep: FieldSet) -> Seen {
    let mut rec = Record::new();
    match r.read_line(line, &mut rec) {
        Ok(true) => Ok(Some((
            rec.entries()
                .iter()
                .filter(|e| keep.contains(e.field))
                .map(|e| (e.field, rec.value(e).to_owned(), rec.binary(e).to_vec()))
                .collect(),
            rec.timestamp(),
        ))),
        Ok(false) => Ok(None),
        Err(e) => Err(e.message),
    }
}

/// Reads `text` with both readers, line by line; panics on the first difference.
fn same(format: Format, text: &[u8], needed: FieldSet) -> usize {
    let keep = needed.with_helpers();
    let mut general = Reader::new(format, None);
    let mut restricted = Reader::restricted(format, None, needed);
    let mut records = 0;
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let want = read(&mut general, line, keep);
        let got = read(&mut restricted, line, keep);
        assert_eq!(
            got,
            want,
            "{format} line {} {:?} needing {:?}",
            i + 1,
            String::from_utf8_lossy(line),
            needed.iter().collect::<Vec<_>>()
        );
        records += usize::from(matches!(want, Ok(Some(_))));
    }
    records
}

fn needed_sets() -> Vec<FieldSet> {
    let mut sets = vec![FieldSet::EMPTY, FieldSet::all()];
    for f in Field::ALL {
        sets.push(FieldSet::EMPTY.with(*f));
    }
    let mut rng = Rng::new(7);
    for _ in 0..20 {
        sets.push(
            Field::ALL
                .iter()
                .copied()
                .filter(|_| rng.below(3) == 0)
                .collect(),
        );
    }
    sets
}

const HOSTILE: &[&str] = &[
    r#"{"source":{"ip":"10.0.0.1"},"source.ip":"10.0.0.2","source":{"ip":"10.0.0.3"}}"#,
    r#"{"sour\u0063e":{"ip":"10.0.0.1"}}"#,
    r#"{"source":{"i\u0070":"10.0.0.1"},"dns":{"question":{"name":"ex\u0061mple.COM."}}}"#,
    r#"{"dns":{"question":{"name":"B\u00fccher.example"}}}"#,
    r#"{"dns":{"question":{"name":"Bücher.example"}},"file":{"name":"naïve \"quoted\" \\ path.exe"}}"#,
    r#"{"file":{"name":"\ud83d\ude00.exe"}}"#,
    r#"{"file":{"name":"\ud83d.exe"}}"#,
    r#"{"file":{"name":"\ude00.exe"}}"#,
    r#"{"ignored":"\ud83d","source":{"ip":"10.0.0.1"}}"#,
    r#"{"ignored":"\x","source":{"ip":"10.0.0.1"}}"#,
    r#"{"source":{"ip":" 10.0.0.1 "},"destination":{"ip":"2001:DB8:0:0::1"}}"#,
    r#"{"source":{"ip":"010.0.0.1"},"destination":{"ip":"::ffff:1.2.3.4"}}"#,
    r#"{"source":{"port":0080},"destination":{"port":443}}"#,
    r#"{"source":{"port":80.0},"destination":{"port":-1},"file":{"size":1e3}}"#,
    r#"{"source":{"port":12345678901234567890123},"file":{"size":18446744073709551616}}"#,
    r#"{"@timestamp":1714564800123,"source":{"ip":"10.0.0.1"}}"#,
    r#"{"@timestamp":1714564800.5,"source":{"ip":"10.0.0.1"}}"#,
    r#"{"@timestamp":"2024-05-01T12:00:00Z","@timestamp":"nonsense"}"#,
    r#"{"dns":{"answers":[{"data":"1.2.3.4"},{"data":"cname.example"},{"data":["5.6.7.8",["9.9.9.9"]]}]}}"#,
    r#"{"dns":{"answers":{"data":"1.2.3.4"}},"dns.answers.data":"2.3.4.5"}"#,
    r#"{"url":{"domain":"Evil.Example","path":"/a b"},"destination":{"port":8080}}"#,
    r#"{"url.full":"HTTP://u:p@Evil.Example:80/x#f","url":{"full":"http://a.example/"}}"#,
    r#"{"file":{"hash":{"md5":"D41D8CD98F00B204E9800998ECF8427E","sha256":"zz"}}}"#,
    r#"{"tls":{"server":{"hash":{"sha1":"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"}}}}"#,
    r#"{"source":{"ip":"10.0.0.1"}"#,
    r#"{"source":{"ip":"10.0.0.1"}} x"#,
    r#"{"source":{"ip":"10.0.0.1"},}"#,
    r#"{"a":[1,2,]}"#,
    r#"{"a":01}"#,
    r#"{"a":-}"#,
    r#"{"a":1.}"#,
    r#"{"a":tru}"#,
    r#"{"a":"ctrl	tab"}"#,
    r#"{"source":{"ip":"ctrl	tab"}}"#,
    r#"[{"source":{"ip":"10.0.0.1"}}]"#,
    r#""just a string""#,
    r#"{}"#,
    r#"  {"source" : { "ip" : "10.0.0.1" } }  "#,
    "\x0c{\"source\":{\"ip\":\"10.0.0.1\"}}",
    r#"{"":{"ip":"10.0.0.1"},"source":{"":"x"},"source.":{"ip":"1.1.1.1"}}"#,
    r#"{"source..ip":"10.0.0.1","source":{".ip":"10.0.0.2"}}"#,
    r#"{"source":{"ip":{"nested":"10.0.0.1"}}}"#,
    r#"{"source":"10.0.0.1","destination":null,"network":{"transport":["TCP","udp"]}}"#,
    r#"{"email":{"from":{"address":"a@b.example"},"to":{"address":["c@d.example","e@f.example"]}}}"#,
];

fn deep(n: usize, leaf: &str) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(r#"{"source":"#);
    }
    s.push_str(leaf);
    for _ in 0..n {
        s.push('}');
    }
    s
}

fn hostile_lines() -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = HOSTILE.iter().map(|l| l.as_bytes().to_vec()).collect();
    // Many values: more than a record holds, in needed and unneeded fields.
    let ips: Vec<String> = (0..80).map(|i| format!("\"10.0.{i}.1\"")).collect();
    lines.push(
        format!(
            r#"{{"dns":{{"answers":[{}]}},"url":{{"domain":"a.example","path":"/x"}}}}"#,
            ips.iter()
                .map(|ip| format!(r#"{{"data":{ip}}}"#))
                .collect::<Vec<_>>()
                .join(",")
        )
        .into_bytes(),
    );
    lines.push(format!(r#"{{"source":{{"port":[{}]}}}}"#, "1,".repeat(70) + "2").into_bytes());
    for n in [1, 31, 32, 33, 90, 120, 130] {
        lines.push(deep(n, r#"{"ip":"10.0.0.1"}"#).into_bytes());
        lines.push(
            format!(
                "{{\"dns\":{{\"answers\":{}{{\"data\":\"1.2.3.4\"}}{}}}}}",
                "[".repeat(n),
                "]".repeat(n)
            )
            .into_bytes(),
        );
    }
    lines.push(b"{\"file\":{\"name\":\"\xff\xfe\"}}".to_vec());
    lines.push(b"{\"ignored\":\"\xff\",\"source\":{\"ip\":\"10.0.0.1\"}}".to_vec());
    lines.push(b"{\"\xc3\xa9\":1,\"source\":{\"ip\":\"10.0.0.1\"}}".to_vec());
    // Every prefix of a few lines: truncated input.
    for l in [HOSTILE[0], HOSTILE[2], HOSTILE[22]] {
        for cut in 0..l.len() {
            lines.push(l.as_bytes()[..cut].to_vec());
        }
    }
    lines
}

#[test]
fn hostile_json_lines_read_the_same() {
    let text = hostile_lines().join(&b'\n');
    for needed in needed_sets() {
        for format in [Format::Ecs, Format::Eve] {
            same(format, &text, needed);
        }
    }
}

#[test]
fn generated_logs_read_the_same() {
    for format in [Format::Ecs, Format::Eve, Format::Zeek, Format::Csv] {
        let (files, planted) = generate(&Spec {
            format,
            events: 400,
            plants: standard_plants(format),
            malformed: 5,
            seed: 11,
        });
        assert!(!planted.is_empty());
        for needed in needed_sets() {
            let mut records = 0;
            for f in &files {
                records += same(format, f.text.as_bytes(), needed);
            }
            assert!(records >= 400, "{format}: {records} records");
        }
    }
}

#[test]
fn zeek_with_long_sets_reads_the_same() {
    let hosts: Vec<String> = (0..70).map(|i| format!("10.1.{i}.1")).collect();
    let text = format!(
        "#separator \\x09\n#set_separator\t,\n#fields\tts\tfuid\ttx_hosts\trx_hosts\tmd5\n\
         1714564800.0\tF1\t{}\t10.9.9.9\td41d8cd98f00b204e9800998ecf8427e\n\
         1714564800.0\tF2\t10.2.2.2\t{}\t-\n1714564800.0\tF3\t-",
        hosts.join(","),
        hosts.join(",")
    );
    for needed in needed_sets() {
        same(Format::Zeek, text.as_bytes(), needed);
    }
}

/// Many known columns (more than a record holds), the needed one last: the restricted reader
/// must keep what the general one keeps (the last values are over the limit there); a header
/// that lies about its columns refuses every line the same way; time stamps, read lazily, are
/// the general reader's.
#[test]
fn zeek_with_many_columns_and_lying_headers_reads_the_same() {
    let mut cols = vec!["ts".to_owned()];
    let mut vals = vec!["1714564800.25".to_owned()];
    for i in 0..70 {
        cols.push("id.orig_h".into());
        vals.push(format!("10.3.{i}.1"));
    }
    cols.push("query".into());
    vals.push("late.evil.example".into());
    let text = format!(
        "#separator \\x09\n#fields\t{}\n{}\n\
         #fields\tts\tquery\tanswers\n\
         1714564800.5\tA.example\n\
         1714564800.5\tb.example\t1.2.3.4\textra\n\
         x\tc.example\t1.2.3.4\n\
         99999999999999999999\td.example\t-\n\
         1714564800.123456789012345678901234567890\te.example\t-",
        cols.join("\t"),
        vals.join("\t")
    );
    for needed in needed_sets() {
        same(Format::Zeek, text.as_bytes(), needed);
    }
    let mut r = Reader::restricted(Format::Zeek, None, FieldSet::EMPTY.with(Field::DnsQuestion));
    let mut rec = Record::new();
    let mut got = Vec::new();
    for line in text.lines() {
        got.push(
            r.read_line(line.as_bytes(), &mut rec)
                .map(|ok| {
                    ok.then(|| {
                        (
                            rec.get(Field::DnsQuestion).map(str::to_owned),
                            rec.timestamp(),
                        )
                    })
                })
                .map_err(|e| e.message),
        );
    }
    assert_eq!(
        got,
        [
            Ok(None),
            Ok(None),
            // Over the limit in the general reader: not kept here either.
            Ok(Some((None, Some(1_714_564_800_250_000_000)))),
            Ok(None),
            Err("2 fields where the #fields header names 3".to_owned()),
            Err("4 fields where the #fields header names 3".to_owned()),
            Ok(Some((Some("c.example".into()), None))),
            Ok(Some((Some("d.example".into()), None))),
            // Longer than the text a record keeps: parsed at once, to the same value.
            Ok(Some((
                Some("e.example".into()),
                telemetry::time::parse_epoch_seconds("1714564800.123456789012345678901234567890")
            ))),
        ]
    );
}

/// A `#fields` header naming more columns than the limit is refused (the columns before it
/// stay), and data lines before any `#fields` header are refused.
#[test]
fn zeek_headers_out_of_bounds_are_refused() {
    let huge = format!("#fields\t{}", vec!["x"; 5000].join("\t"));
    let mut r = Reader::new(Format::Zeek, None);
    let mut rec = Record::new();
    let e = r.read_line(b"1\t2", &mut rec).unwrap_err();
    assert_eq!(e.message, "data line before the #fields header");
    let e = r.read_line(huge.as_bytes(), &mut rec).unwrap_err();
    assert!(e.message.contains("5000 columns"), "{}", e.message);
    assert!(r.read_line(b"#fields\tts\tquery", &mut rec).is_ok());
    assert!(r.read_line(huge.as_bytes(), &mut rec).is_err());
    assert!(r.read_line(b"1714564800\tq.example", &mut rec).unwrap());
    assert_eq!(rec.get(Field::DnsQuestion), Some("q.example"));
    let e = r.read_line(b"#separator ", &mut rec).unwrap_err();
    assert_eq!(e.message, "#separator names no separator");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Generated lines with one byte changed (often into a quote, a backslash, a brace or a
    /// non-ASCII byte) and cut anywhere.
    #[test]
    fn mutated_lines_read_the_same(
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(vec![b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'.', b'0', b'-', b'e', b'u', b' ', 0x01, 0xc3, 0xa9, 0xff, b'A']),
        cut in any::<prop::sample::Index>(),
        pick in 0usize..40,
    ) {
        let needed = needed_sets()[pick % needed_sets().len()];
        for format in [Format::Ecs, Format::Eve] {
            let (files, _) = generate(&Spec { format, events: 4, plants: standard_plants(format), malformed: 0, seed });
            let mut text = files[0].text.clone().into_bytes();
            let i = at.index(text.len());
            text[i] = byte;
            text.truncate(cut.index(text.len() + 1));
            same(format, &text, needed);
        }
    }
}

/// The restricted Zeek reader reads only the columns it needs, cutting the line up to the last
/// of them and counting the separators after it: pathological logs must still give the general
/// reader's records and refusals — no `#fields` header, lines with fewer or more columns than
/// it names (short of a needed column, or only after it), unset `-` and empty `(empty)` values
/// in every column and as set elements, escapes such as `\x09` kept as text, empty columns and
/// trailing separators, sets with empty or non-address elements, a line far longer than its
/// columns need, headers that change the separators (one byte, several bytes, non-ASCII) and
/// the unset and empty markers in the middle of a log, and bytes that are not UTF-8.
#[test]
fn pathological_zeek_reads_the_same() {
    let long_uri = format!("/{}", "a".repeat(200_000));
    let many = vec!["x"; 3000].join("\t");
    let text = [
        "1714564800.0\tC0\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4".to_owned(),
        "#separator \\x09".into(),
        "#set_separator\t,".into(),
        "#empty_field\t(empty)".into(),
        "#unset_field\t-".into(),
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers\tuser_agent".into(),
        "1714564800.0\tC1\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tQ.Example.\tcname.x,1.2.3.4,,2001:DB8::1,-,(empty),1.2.3.4 \tua".into(),
        "-\t-\t-\t-\t-\t-\t-\t-\t-\t-".into(),
        "(empty)\t(empty)\t(empty)\t(empty)\t(empty)\t(empty)\t(empty)\t(empty)\t(empty)\t(empty)".into(),
        "\t\t\t\t\t\t\t\t\t".into(),
        "1714564800.0\tC2\t10.0.0.1".into(),
        "1714564800.0\tC3\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example".into(),
        "1714564800.0\tC4\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4\tua\textra".into(),
        "1714564800.0\tC5\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4\tua\t".into(),
        "1714564800.0\tC6\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4\tua\t\t\t".into(),
        format!("1714564800.0\tC7\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4\tua\t{many}"),
        "1714564800.0\tC8\t10.0.0.1\\x0910.0.0.9\t1\t10.0.0.2\\x09\t53\tudp\tevil\\x09.example\t1.2.3.4\\x09\tu\\x09a".into(),
        "1714564800.0\tC9\t 10.0.0.1 \t1\t010.0.0.2\t053\tudp\tb\u{fc}cher.example\t::ffff:1.2.3.4,1.2.3\t\u{a0}ua\u{2003}".into(),
        "1714564800.0\tC10\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t,,,\tua".into(),
        "#unset_field\tNONE".into(),
        "#empty_field\tEMPTY".into(),
        "1714564800.0\tC11\tNONE\t-\tEMPTY\t(empty)\tudp\tNONE\t-,NONE,1.2.3.4\tEMPTY".into(),
        "#set_separator\t;".into(),
        "1714564800.0\tC12\t10.0.0.1\t1\t10.0.0.2\t53\tudp\tq.example\t1.2.3.4;5.6.7.8,9.9.9.9\tua".into(),
        "#fields\tts\tfuid\ttx_hosts\trx_hosts\tsha256\thost\turi".into(),
        "1714564800.0\tF1\t10.0.0.1;10.0.0.3\t10.0.0.2\tAB:CD\tEvil.Example\t/a".into(),
        format!("1714564800.0\tF2\t10.0.0.1\t10.0.0.2\t-\tevil.example\t{long_uri}"),
        format!("1714564800.0\tF3\t10.0.0.1\t10.0.0.2\t{}\tevil.example:8080\thttp://Evil.Example/x#f", "a1".repeat(32)),
        "1714564800.0\tF4\t10.0.0.1\t10.0.0.2\t-\t2001:db8::1\t".into(),
        "#separator ,".into(),
        "#fields,ts,query,answers".into(),
        "1714564800.0,Q.example,1.2.3.4;5.6.7.8".into(),
        "1714564800.0,q.example".into(),
        "#separator \\x09\\x09".into(),
        "#fields\t\tts\t\tquery\t\tanswers".into(),
        "1714564800.0\t\tq.example\t\t1.2.3.4;5.6.7.8\t\t".into(),
        "1714564800.0\tq.example\t1.2.3.4".into(),
        "#separator \\xe9".into(),
        "#fields\u{e9}ts\u{e9}query".into(),
        "1714564800.0\u{e9}q.example".into(),
        "#separator \\x09".into(),
        "#set_separator\t\\x2c".into(),
        "#fields\tts\tanswers".into(),
        "1714564800.0\t1.2.3.4,5.6.7.8".into(),
    ]
    .join("\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\n1714564800.0\t\xff\xfe\n1714564800.0\tq\xc3");
    for needed in needed_sets() {
        same(Format::Zeek, &bytes, needed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Generated Zeek logs with one byte changed (often into a separator, a set separator,
    /// the unset marker, a `#`, a colon, a dot or a byte that is not ASCII) and cut anywhere.
    #[test]
    fn mutated_zeek_lines_read_the_same(
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(vec![b'\t', b',', b'-', b'#', b':', b'.', b'0', b'a', b'A', b' ', b'\\', b'x', b'\n', 0x01, 0xc3, 0xff]),
        cut in any::<prop::sample::Index>(),
        pick in 0usize..40,
    ) {
        let needed = needed_sets()[pick % needed_sets().len()];
        let (files, _) = generate(&Spec { format: Format::Zeek, events: 6, plants: standard_plants(Format::Zeek), malformed: 1, seed });
        for f in &files {
            let mut text = f.text.clone().into_bytes();
            let i = at.index(text.len());
            text[i] = byte;
            text.truncate(cut.index(text.len() + 1));
            same(Format::Zeek, &text, needed);
        }
    }
}
