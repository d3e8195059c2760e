//! Hostile telemetry: every line a scan cannot read is a counted skip with its line number (the
//! same on one thread and on several), a truncated input is a read error at its line, and a
//! thread that fails (a bug: a reader or the matcher panicking) fails the scan with an error
//! instead of hanging it.

use std::sync::mpsc;
use std::time::Duration;

use super::super::parallel::tests::{PANIC_IN_READER, PANIC_IN_WORKER};
use super::*;

/// Runs `f` on another thread; fails the test when it has not returned in two minutes (a hung
/// scan), instead of hanging the test run.
fn within_time<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the scan did not return: hung")
}

/// Several blocks of flow lines (about 100 bytes each), the planted address every 1,000th
/// line, `odd` as line `at`.
fn big_log(lines: usize, at: usize, odd: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    for i in 1..=lines {
        if i == at {
            text.extend_from_slice(odd);
        } else {
            let dst = if i % 1000 == 0 {
                "203.0.113.7"
            } else {
                "10.1.2.3"
            };
            text.extend_from_slice(flow("2024-05-01T13:00:00Z", dst).as_bytes());
        }
        text.push(b'\n');
    }
    text
}

fn scan_bytes(
    name: &str,
    text: Vec<u8>,
    threads: usize,
) -> (Result<ScanSummary, ScanError>, Vec<FoundHit>, Vec<String>) {
    let name = name.to_owned();
    within_time(move || {
        let inputs = [Input::Memory {
            name,
            bytes: text.into(),
        }];
        let mut hits: Vec<FoundHit> = Vec::new();
        let mut events = Events::default();
        let r = scan(
            &inputs,
            &set(),
            &ScanOptions { threads, ..opts() },
            &mut hits,
            &mut events,
        );
        (r, hits, events.0)
    })
}

#[test]
fn a_panicking_worker_fails_the_scan_instead_of_hanging() {
    // 40,000 lines of about 100 bytes: several blocks; the worker panics in a later one.
    let text = big_log(40_000, 25_001, PANIC_IN_WORKER);
    for threads in [2, 3] {
        let (r, hits, _) = scan_bytes("p.json", text.clone(), threads);
        match r {
            Err(ScanError::Failed {
                file,
                line,
                message,
            }) => {
                assert_eq!(file, "p.json");
                assert!(line > 1 && line <= 25_001, "{line}");
                assert!(message.contains("injected"), "{message}");
            }
            other => panic!("{threads} threads: {other:?}"),
        }
        // The hits of the blocks before the failed one were handed over, none after it.
        assert!(hits.iter().all(|h| h.line < 25_001), "{threads} threads");
    }
    // On one thread the line is only a malformed line (nothing panics there).
    let (r, hits, _) = scan_bytes("p.json", text, 1);
    let s = r.unwrap();
    assert_eq!((s.malformed, s.hits, hits.len()), (1, 40, 40));
}

#[test]
fn a_panicking_reading_thread_fails_the_scan_instead_of_hanging() {
    let text = big_log(40_000, 30_001, PANIC_IN_READER);
    let (r, hits, _) = scan_bytes("q.json", text, 2);
    match r {
        Err(ScanError::Failed { file, message, .. }) => {
            assert_eq!(file, "q.json");
            assert!(message.contains("injected"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(hits.iter().all(|h| h.line < 30_001));
}

/// Deep nesting, lines over the limit, bytes that are not UTF-8, NUL bytes, a Zeek header
/// that lies about its columns, data before any header, a header of too many columns, a last
/// line without its newline, and a gzip stream cut short: each unreadable line is counted
/// with its line number, the planted lines are still found, and every thread count reports
/// exactly what one thread does.
#[test]
fn hostile_lines_are_counted_skips_the_same_on_every_thread_count() {
    let hit = flow("2024-05-01T13:00:00Z", "203.0.113.7");
    let mut ecs: Vec<Vec<u8>> = vec![
        hit.clone().into_bytes(),
        "{\"a\":".repeat(200_000).into_bytes(),
        "[".repeat(500_000).into_bytes(),
        b"{\"source\":{\"ip\":\"\xff\xfe\"}}".to_vec(),
        b"{\"dns\":{\"question\":{\"name\":\"c2.evil.\x00example\"}}}".to_vec(),
        vec![b'x'; MAX_LINE + 1],
        vec![b'{'; 3 * MAX_LINE],
        b"\xc3\x28\xa0\xa1".to_vec(),
        hit.clone().into_bytes(),
        b"{\"source\":{\"ip\":\"203.0.113.7\"}".to_vec(),
        hit.clone().into_bytes(),
    ];
    // Some filler so that the hostile lines fall into several blocks.
    for _ in 0..5 {
        ecs.insert(3, flow("2024-05-01T13:00:00Z", "10.0.0.1").into_bytes());
    }
    let mut ecs_text = ecs.join(&b'\n');
    ecs_text.extend_from_slice(b"\n");
    ecs_text.extend_from_slice(hit.as_bytes()); // no newline at the end

    let mut zeek_text = b"#separator \\x09\n\
        1714564800.0\t10.0.0.1\t203.0.113.7\n\
        #fields\tts\tid.orig_h\tid.resp_h\n\
        1714564800.0\t10.0.0.1\t203.0.113.7\n\
        1714564800.0\t10.0.0.1\n\
        1714564800.0\t10.0.0.1\t203.0.113.7\textra\n\
        1714564800.0\t\xff\t203.0.113.7\n\
        #fields\tts\tid.resp_h\tid.orig_h\tquery\n\
        bad-time\t203.0.113.7\t10.0.0.1\tc2.evil.example\n"
        .to_vec();
    zeek_text.extend_from_slice(format!("#fields\t{}\n", vec!["a"; 10_000].join("\t")).as_bytes());
    zeek_text.extend_from_slice(b"1714564800.0\t203.0.113.7\t10.0.0.1\t-\n");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..50_000 {
        let dst = if i % 5000 == 0 {
            "203.0.113.7"
        } else {
            "10.9.8.7"
        };
        io::Write::write_all(
            &mut gz,
            format!("{}\n", flow("2024-05-01T13:00:00Z", dst)).as_bytes(),
        )
        .unwrap();
    }
    let mut cut = gz.finish().unwrap();
    cut.truncate(cut.len() * 2 / 3);

    let inputs = vec![
        ("ecs.json".to_owned(), ecs_text),
        ("conn.log".to_owned(), zeek_text),
        ("cut.json.gz".to_owned(), cut),
    ];
    let run = |threads: usize| {
        let inputs = inputs.clone();
        within_time(move || {
            let inputs: Vec<Input> = inputs
                .into_iter()
                .map(|(name, bytes)| Input::Memory {
                    name,
                    bytes: bytes.into(),
                })
                .collect();
            let mut hits: Vec<FoundHit> = Vec::new();
            let mut events = Events::default();
            let s = scan(
                &inputs,
                &set(),
                &ScanOptions { threads, ..opts() },
                &mut hits,
                &mut events,
            )
            .unwrap();
            (s, hits, events.0)
        })
    };
    let one = run(1);
    let lines = |file: &str| -> Vec<u64> {
        one.1
            .iter()
            .filter(|h| h.file == file)
            .map(|h| h.line)
            .collect()
    };
    let malformed = |file: &str| -> Vec<String> {
        one.2
            .iter()
            .filter(|e| e.starts_with(&format!("malformed {file}:")))
            .cloned()
            .collect()
    };
    // ECS: the hits on lines 1, 14, 16 and the last line (17, without its newline); refused:
    // deep nesting (2, 3), bytes that are not UTF-8 in a string (9) or outside one (13), a raw
    // NUL in a string (10), lines over the limit (11, 12), a truncated object (15).
    assert_eq!(lines("ecs.json"), [1, 14, 16, 17]);
    let want: Vec<String> = [2, 3, 9, 10, 11, 12, 13, 15]
        .iter()
        .map(|l| format!("malformed ecs.json:{l}"))
        .collect();
    assert_eq!(malformed("ecs.json"), want);
    // Zeek: data before the `#fields` header (2), too few and too many columns (5, 6), bytes
    // that are not UTF-8 (7), a header of too many columns (10, after which the header before
    // it still holds); a time stamp that is no time stamp is only no time (9).
    assert_eq!(
        malformed("conn.log"),
        [
            "malformed conn.log:2",
            "malformed conn.log:5",
            "malformed conn.log:6",
            "malformed conn.log:7",
            "malformed conn.log:10",
        ]
    );
    assert_eq!(lines("conn.log"), [4, 9, 9, 11]);
    // The cut gzip stream: a read error after the lines before the cut, their hits found.
    assert!(
        one.2.iter().any(|e| e.starts_with("read cut.json.gz:")),
        "{:?}",
        one.2
    );
    assert!(!lines("cut.json.gz").is_empty());
    assert_eq!(one.0.errors, 1);
    for threads in [2, 4] {
        let many = run(threads);
        assert_eq!(many.0, one.0, "{threads} threads");
        assert_eq!(many.1, one.1, "{threads} threads");
        assert_eq!(many.2, one.2, "{threads} threads");
    }
}
