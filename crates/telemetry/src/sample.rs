//! Sample logs with planted values, generated deterministically in memory for tests and
//! benchmarks. Background traffic uses private addresses (`10.0.0.0/8`), names under
//! `.benign.example` and random digests, so planted values (documentation ranges, other names)
//! appear exactly where they were planted.

use std::fmt::Write as _;

use crate::Format;
use crate::field::Field;
use crate::time::format_timestamp;

/// A small deterministic generator (xorshift64*), so samples are the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number below `n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// `n` random bytes as lower-case hex.
    pub fn hex(&mut self, bytes: usize) -> String {
        let mut s = String::with_capacity(bytes * 2);
        for _ in 0..bytes {
            let _ = write!(s, "{:02x}", self.below(256));
        }
        s
    }
}

/// A planted value: where it was put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    /// The file it is in (as named in [`SampleFile::name`]).
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The field.
    pub field: Field,
    /// The value as planted.
    pub value: String,
}

/// One generated log file.
#[derive(Debug, Clone)]
pub struct SampleFile {
    /// A file name (`dns.log`, `eve.json`).
    pub name: String,
    /// The content.
    pub text: String,
    /// Lines deliberately broken.
    pub malformed: Vec<u64>,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The format.
    pub format: Format,
    /// Background events (per file for Zeek).
    pub events: usize,
    /// Values to plant, each in its own event.
    pub plants: Vec<(Field, String)>,
    /// How many malformed lines to add (per file).
    pub malformed: usize,
    /// Seed.
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Flow,
    Dns,
    Http,
    Tls,
    Cert,
    File,
}

#[derive(Debug, Clone)]
struct Event {
    ts: i64,
    kind: Kind,
    src: String,
    dst: String,
    sport: u16,
    dport: u16,
    proto: &'static str,
    query: String,
    answer: String,
    host: String,
    path: String,
    ua: String,
    sni: String,
    cert_sha1: String,
    cert_sha256: String,
    subject: String,
    file_name: String,
    md5: String,
    sha1: String,
    sha256: String,
    size: u64,
}

fn kind_of(field: Field) -> Option<Kind> {
    use Field as F;
    Some(match field {
        F::SourceIp | F::DestinationIp => Kind::Flow,
        F::DnsQuestion | F::DnsResolvedIp => Kind::Dns,
        F::UrlDomain | F::UrlFull | F::UserAgent => Kind::Http,
        F::TlsServerName => Kind::Tls,
        F::CertSha1 | F::CertSha256 | F::CertSubject => Kind::Cert,
        F::FileName | F::FileMd5 | F::FileSha1 | F::FileSha256 => Kind::File,
        _ => return None,
    })
}

/// The fields [`generate`] can plant.
pub fn plantable(field: Field) -> bool {
    kind_of(field).is_some()
}

fn private_ip(rng: &mut Rng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

fn event(rng: &mut Rng, n: u64, kind: Kind) -> Event {
    let host = format!("h{}.benign.example", rng.below(100_000));
    Event {
        ts: 1_714_564_800_000_000_000 + (n as i64) * 1_000_000_000,
        kind,
        src: private_ip(rng),
        dst: private_ip(rng),
        sport: 1024 + rng.below(60_000) as u16,
        // HTTP on port 80, so that a planted URL is the URL the readers build (a port other
        // than 80 is part of the URL).
        dport: match kind {
            Kind::Http => {
                let _ = rng.below(4);
                80
            }
            _ => [53, 80, 443, 8080][rng.below(4) as usize],
        },
        proto: if kind == Kind::Dns { "udp" } else { "tcp" },
        query: host.clone(),
        answer: private_ip(rng),
        path: format!("/p/{}?q={}", rng.below(1000), rng.below(1000)),
        ua: "Mozilla/5.0 (X11; Linux x86_64)".into(),
        sni: host.clone(),
        host,
        cert_sha1: rng.hex(20),
        cert_sha256: rng.hex(32),
        subject: format!("CN=c{}.benign.example", rng.below(1000)),
        file_name: format!("doc{}.pdf", rng.below(10_000)),
        md5: rng.hex(16),
        sha1: rng.hex(20),
        sha256: rng.hex(32),
        size: rng.below(1 << 20),
    }
}

fn plant(e: &mut Event, field: Field, value: &str) {
    use Field as F;
    let v = value.to_owned();
    match field {
        F::SourceIp => e.src = v,
        F::DestinationIp => e.dst = v,
        F::DnsQuestion => e.query = v,
        F::DnsResolvedIp => e.answer = v,
        F::UrlDomain => e.host = v,
        F::UrlFull => {
            // http://host/path → host and path, as Zeek and EVE log them.
            let rest = value.strip_prefix("http://").unwrap_or(value);
            let (h, p) = rest.split_once('/').unwrap_or((rest, ""));
            e.host = h.to_owned();
            e.path = format!("/{p}");
        }
        F::UserAgent => e.ua = v,
        F::TlsServerName => e.sni = v,
        F::CertSha1 => e.cert_sha1 = v,
        F::CertSha256 => e.cert_sha256 = v,
        F::CertSubject => e.subject = v,
        F::FileName => e.file_name = v,
        F::FileMd5 => e.md5 = v,
        F::FileSha1 => e.sha1 = v,
        F::FileSha256 => e.sha256 = v,
        _ => {}
    }
}

const KINDS: [Kind; 6] = [
    Kind::Flow,
    Kind::Dns,
    Kind::Http,
    Kind::Tls,
    Kind::Cert,
    Kind::File,
];

/// One value planted per field every format can carry (a certificate SHA-256 for Zeek, a SHA-1
/// elsewhere): the set the readers' and the scanner's tests plant.
pub fn standard_plants(format: Format) -> Vec<(Field, String)> {
    let mut p = vec![
        (Field::DestinationIp, "203.0.113.7".to_owned()),
        (Field::SourceIp, "2001:db8::bad".to_owned()),
        (Field::DnsQuestion, "c2.evil.example".to_owned()),
        (Field::DnsResolvedIp, "198.51.100.23".to_owned()),
        (
            Field::UrlFull,
            "http://drop.evil.example/payload.bin?id=7".to_owned(),
        ),
        (Field::TlsServerName, "login.phish.example".to_owned()),
        (
            Field::FileSha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned(),
        ),
        (
            Field::FileMd5,
            "d41d8cd98f00b204e9800998ecf8427e".to_owned(),
        ),
        (Field::FileName, "invoice.pdf.exe".to_owned()),
    ];
    match format {
        Format::Zeek => p.push((Field::CertSha256, "aa".repeat(32))),
        _ => p.push((Field::CertSha1, "bb".repeat(20))),
    }
    p
}

/// Generates sample logs: one file for ECS, EVE and CSV; one file per log type for Zeek.
/// Returns the files and where each plant went. Plants of fields [`plantable`] refuses are
/// skipped.
pub fn generate(spec: &Spec) -> (Vec<SampleFile>, Vec<Planted>) {
    let mut rng = Rng::new(spec.seed);
    let mut events: Vec<(Event, Option<usize>)> = (0..spec.events)
        .map(|n| {
            let kind = KINDS[rng.below(KINDS.len() as u64) as usize];
            (event(&mut rng, n as u64, kind), None)
        })
        .collect();
    for (i, (field, value)) in spec.plants.iter().enumerate() {
        let Some(kind) = kind_of(*field) else {
            continue;
        };
        let at = rng.below(events.len() as u64 + 1) as usize;
        let mut e = event(&mut rng, at as u64, kind);
        plant(&mut e, *field, value);
        events.insert(at, (e, Some(i)));
    }
    let files: Vec<(&str, Vec<Kind>)> = match spec.format {
        Format::Zeek => vec![
            ("conn.log", vec![Kind::Flow]),
            ("dns.log", vec![Kind::Dns]),
            ("http.log", vec![Kind::Http]),
            ("ssl.log", vec![Kind::Tls]),
            ("x509.log", vec![Kind::Cert]),
            ("files.log", vec![Kind::File]),
        ],
        Format::Ecs => vec![("ecs.jsonl", KINDS.to_vec())],
        Format::Eve => vec![("eve.json", KINDS.to_vec())],
        Format::Csv => vec![("log.csv", KINDS.to_vec())],
    };
    let mut out = Vec::new();
    let mut planted = Vec::new();
    for (name, kinds) in files {
        let mut lines: Vec<String> = header(spec.format, name);
        let mut plants_here = Vec::new();
        for (e, p) in events.iter().filter(|(e, _)| kinds.contains(&e.kind)) {
            lines.push(line(spec.format, e));
            if let Some(i) = p {
                plants_here.push((lines.len(), *i));
            }
        }
        // Malformed lines go after the header, shifting the planted lines below them.
        let first_data = header(spec.format, name).len();
        let mut malformed = Vec::new();
        for _ in 0..spec.malformed {
            let at = first_data + rng.below((lines.len() - first_data) as u64 + 1) as usize;
            lines.insert(at, broken(spec.format));
            for (l, _) in &mut plants_here {
                if *l > at {
                    *l += 1;
                }
            }
            for m in &mut malformed {
                if *m > at as u64 {
                    *m += 1;
                }
            }
            malformed.push(at as u64 + 1);
        }
        malformed.sort_unstable();
        for (l, i) in plants_here {
            let (field, value) = &spec.plants[i];
            planted.push(Planted {
                file: name.to_owned(),
                line: l as u64,
                field: *field,
                value: value.clone(),
            });
        }
        let mut text = lines.join("\n");
        text.push('\n');
        out.push(SampleFile {
            name: name.to_owned(),
            text,
            malformed,
        });
    }
    (out, planted)
}

fn broken(format: Format) -> String {
    match format {
        Format::Ecs | Format::Eve => r#"{"source":{"ip":"10.0.0.1"},"#.into(),
        Format::Zeek => "1714564800.0\ttruncated".into(),
        Format::Csv => "\"unterminated,10.0.0.1".into(),
    }
}

const CSV_HEADER: &str = "@timestamp,source.ip,destination.ip,source.port,destination.port,network.transport,dns.question.name,dns.resolved_ip,url.full,user_agent.original,tls.client.server_name,tls.server.hash.sha1,tls.server.hash.sha256,tls.server.x509.subject.distinguished_name,file.name,file.hash.md5,file.hash.sha1,file.hash.sha256,file.size";

fn zeek_fields(name: &str) -> &'static str {
    match name {
        "conn.log" => {
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration"
        }
        "dns.log" => "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tanswers",
        "http.log" => {
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\thost\turi\tuser_agent"
        }
        "ssl.log" => {
            "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tversion\tserver_name\tsubject"
        }
        "x509.log" => {
            "ts\tid\tcertificate.version\tcertificate.serial\tcertificate.subject\tcertificate.issuer\tfingerprint"
        }
        _ => {
            "ts\tfuid\ttx_hosts\trx_hosts\tsource\tmime_type\tfilename\ttotal_bytes\tmd5\tsha1\tsha256"
        }
    }
}

fn header(format: Format, name: &str) -> Vec<String> {
    match format {
        Format::Zeek => vec![
            "#separator \\x09".into(),
            "#set_separator\t,".into(),
            "#empty_field\t(empty)".into(),
            "#unset_field\t-".into(),
            format!("#path\t{}", name.trim_end_matches(".log")),
            format!("#fields\t{}", zeek_fields(name)),
        ],
        Format::Csv => vec![CSV_HEADER.into()],
        Format::Ecs | Format::Eve => Vec::new(),
    }
}

fn js(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn line(format: Format, e: &Event) -> String {
    match format {
        Format::Ecs => ecs_line(e),
        Format::Eve => eve_line(e),
        Format::Zeek => zeek_line(e),
        Format::Csv => csv_line(e),
    }
}

fn ecs_line(e: &Event) -> String {
    let mut s = format!(
        r#"{{"@timestamp":"{}","event":{{"dataset":"{:?}"}},"source":{{"ip":{},"port":{}}},"destination":{{"ip":{},"port":{}}},"network":{{"transport":"{}"}}"#,
        format_timestamp(e.ts),
        e.kind,
        js(&e.src),
        e.sport,
        js(&e.dst),
        e.dport,
        e.proto
    );
    match e.kind {
        Kind::Flow => s.push_str(r#","network.bytes":1234"#),
        Kind::Dns => {
            let _ = write!(
                s,
                r#","dns":{{"question":{{"name":{},"type":"A"}},"answers":[{{"data":{},"type":"A"}}]}}"#,
                js(&e.query),
                js(&e.answer)
            );
        }
        Kind::Http => {
            let _ = write!(
                s,
                r#","url":{{"full":{},"domain":{}}},"user_agent":{{"original":{}}},"http":{{"request":{{"method":"GET"}}}}"#,
                js(&format!("http://{}{}", e.host, e.path)),
                js(&e.host),
                js(&e.ua)
            );
        }
        Kind::Tls => {
            let _ = write!(s, r#","tls":{{"client":{{"server_name":{}}}}}"#, js(&e.sni));
        }
        Kind::Cert => {
            let _ = write!(
                s,
                r#","tls":{{"server":{{"hash":{{"sha1":{},"sha256":{}}},"x509":{{"subject":{{"distinguished_name":{}}}}}}}}}"#,
                js(&e.cert_sha1),
                js(&e.cert_sha256),
                js(&e.subject)
            );
        }
        Kind::File => {
            let _ = write!(
                s,
                r#","file":{{"name":{},"size":{},"hash":{{"md5":{},"sha1":{},"sha256":{}}}}}"#,
                js(&e.file_name),
                e.size,
                js(&e.md5),
                js(&e.sha1),
                js(&e.sha256)
            );
        }
    }
    s.push('}');
    s
}

fn eve_line(e: &Event) -> String {
    let event_type = match e.kind {
        Kind::Flow => "flow",
        Kind::Dns => "dns",
        Kind::Http => "http",
        Kind::Tls | Kind::Cert => "tls",
        Kind::File => "fileinfo",
    };
    let ts = format_timestamp(e.ts).replace('Z', "000+0000");
    let mut s = format!(
        r#"{{"timestamp":"{ts}","flow_id":1,"event_type":"{event_type}","src_ip":{},"src_port":{},"dest_ip":{},"dest_port":{},"proto":"{}""#,
        js(&e.src),
        e.sport,
        js(&e.dst),
        e.dport,
        e.proto.to_ascii_uppercase()
    );
    match e.kind {
        Kind::Flow => s.push_str(r#","flow":{"pkts_toserver":3,"bytes_toserver":180}"#),
        Kind::Dns => {
            let _ = write!(
                s,
                r#","dns":{{"version":3,"type":"response","queries":[{{"rrname":{},"rrtype":"A"}}],"answers":[{{"rrname":{},"rrtype":"A","rdata":{}}}]}}"#,
                js(&e.query),
                js(&e.query),
                js(&e.answer)
            );
        }
        Kind::Http => {
            let _ = write!(
                s,
                r#","http":{{"hostname":{},"url":{},"http_user_agent":{},"http_method":"GET","status":200}}"#,
                js(&e.host),
                js(&e.path),
                js(&e.ua)
            );
        }
        Kind::Tls => {
            let _ = write!(s, r#","tls":{{"sni":{},"version":"TLS 1.3"}}"#, js(&e.sni));
        }
        Kind::Cert => {
            // EVE writes the SHA-1 fingerprint with colons.
            let fp: Vec<&str> = (0..e.cert_sha1.len() / 2)
                .filter_map(|i| e.cert_sha1.get(2 * i..2 * i + 2))
                .collect();
            let _ = write!(
                s,
                r#","tls":{{"subject":{},"fingerprint":{},"version":"TLS 1.2"}}"#,
                js(&e.subject),
                js(&fp.join(":"))
            );
        }
        Kind::File => {
            let _ = write!(
                s,
                r#","fileinfo":{{"filename":{},"md5":{},"sha1":{},"sha256":{},"size":{},"stored":false}}"#,
                js(&e.file_name),
                js(&e.md5),
                js(&e.sha1),
                js(&e.sha256),
                e.size
            );
        }
    }
    if e.dport == 8080 && e.kind == Kind::Flow {
        s.push_str(r#","alert":{"signature_id":2000001,"signature":"ET POLICY test"}"#);
    }
    s.push('}');
    s
}

fn zeek_line(e: &Event) -> String {
    let ts = format!(
        "{}.{:06}",
        e.ts / 1_000_000_000,
        (e.ts % 1_000_000_000) / 1000
    );
    let id = format!("{}\t{}\t{}\t{}", e.src, e.sport, e.dst, e.dport);
    match e.kind {
        Kind::Flow => format!("{ts}\tCx1\t{id}\t{}\t-\t0.5", e.proto),
        Kind::Dns => format!(
            "{ts}\tCx2\t{id}\tudp\t{}\tcname.benign.example,{}",
            e.query, e.answer
        ),
        Kind::Http => format!("{ts}\tCx3\t{id}\tGET\t{}\t{}\t{}", e.host, e.path, e.ua),
        Kind::Tls => format!("{ts}\tCx4\t{id}\tTLSv13\t{}\t-", e.sni),
        Kind::Cert => format!(
            "{ts}\tFx5\t3\t0A1B\t{}\tCN=Issuer CA\t{}",
            e.subject, e.cert_sha256
        ),
        Kind::File => format!(
            "{ts}\tFx6\t{}\t{}\tHTTP\tapplication/pdf\t{}\t{}\t{}\t{}\t{}",
            e.dst, e.src, e.file_name, e.size, e.md5, e.sha1, e.sha256
        ),
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_line(e: &Event) -> String {
    let k = e.kind;
    let pick = |kind: Kind, v: &str| {
        if k == kind {
            csv_cell(v)
        } else {
            String::new()
        }
    };
    [
        format_timestamp(e.ts),
        e.src.clone(),
        e.dst.clone(),
        e.sport.to_string(),
        e.dport.to_string(),
        e.proto.to_owned(),
        pick(Kind::Dns, &e.query),
        pick(Kind::Dns, &e.answer),
        pick(Kind::Http, &format!("http://{}{}", e.host, e.path)),
        pick(Kind::Http, &e.ua),
        pick(Kind::Tls, &e.sni),
        pick(Kind::Cert, &e.cert_sha1),
        pick(Kind::Cert, &e.cert_sha256),
        pick(Kind::Cert, &e.subject),
        pick(Kind::File, &e.file_name),
        pick(Kind::File, &e.md5),
        pick(Kind::File, &e.sha1),
        pick(Kind::File, &e.sha256),
        if k == Kind::File {
            e.size.to_string()
        } else {
            String::new()
        },
    ]
    .join(",")
}

/// Appends one ECS JSON line (with its `\n`) for a background event numbered `n`, with
/// `planted` (field, value) written into it when given. For the benchmark's gigabyte of log,
/// streamed through a buffer without holding the file in memory.
pub fn ecs_line_into(rng: &mut Rng, n: u64, planted: Option<(Field, &str)>, out: &mut String) {
    let kind = match planted.and_then(|(f, _)| kind_of(f)) {
        Some(k) => k,
        None => KINDS[rng.below(KINDS.len() as u64) as usize],
    };
    let mut e = event(rng, n, kind);
    if let Some((f, v)) = planted {
        plant(&mut e, f, v);
    }
    out.push_str(&ecs_line(&e));
    out.push('\n');
}

/// Appends one line (with its `\n`) of a log in `format` for a background event numbered `n`,
/// with `planted` written into it when given: ECS, EVE and CSV lines of any event type; for
/// Zeek, see [`zeek_line_into`] (each Zeek log holds one event type).
pub fn line_into(
    format: Format,
    rng: &mut Rng,
    n: u64,
    planted: Option<(Field, &str)>,
    out: &mut String,
) {
    let kind = match planted.and_then(|(f, _)| kind_of(f)) {
        Some(k) => k,
        None => KINDS[rng.below(KINDS.len() as u64) as usize],
    };
    let mut e = event(rng, n, kind);
    if let Some((f, v)) = planted {
        plant(&mut e, f, v);
    }
    out.push_str(&line(format, &e));
    out.push('\n');
}

/// The Zeek logs [`zeek_line_into`] writes (`conn.log`, `dns.log`, `http.log`, `ssl.log`,
/// `x509.log`, `files.log`) and the fields each can carry a planted value in.
pub const ZEEK_LOGS: [(&str, &[Field]); 6] = [
    ("conn.log", &[Field::SourceIp, Field::DestinationIp]),
    (
        "dns.log",
        &[
            Field::SourceIp,
            Field::DestinationIp,
            Field::DnsQuestion,
            Field::DnsResolvedIp,
        ],
    ),
    (
        "http.log",
        &[
            Field::SourceIp,
            Field::DestinationIp,
            Field::UrlDomain,
            Field::UrlFull,
            Field::UserAgent,
        ],
    ),
    (
        "ssl.log",
        &[Field::SourceIp, Field::DestinationIp, Field::TlsServerName],
    ),
    ("x509.log", &[Field::CertSha256, Field::CertSubject]),
    (
        "files.log",
        &[
            Field::SourceIp,
            Field::DestinationIp,
            Field::FileName,
            Field::FileMd5,
            Field::FileSha1,
            Field::FileSha256,
        ],
    ),
];

fn zeek_kind(name: &str) -> Kind {
    match name {
        "conn.log" => Kind::Flow,
        "dns.log" => Kind::Dns,
        "http.log" => Kind::Http,
        "ssl.log" => Kind::Tls,
        "x509.log" => Kind::Cert,
        _ => Kind::File,
    }
}

/// The header lines (each with its `\n`) of a Zeek log named as in [`ZEEK_LOGS`].
pub fn zeek_header(name: &str) -> String {
    let mut s = header(Format::Zeek, name).join("\n");
    s.push('\n');
    s
}

/// Appends one line (with its `\n`) of the Zeek log `name` (see [`ZEEK_LOGS`]) for a
/// background event numbered `n`, with `planted` written into it when given (a field that log
/// carries).
pub fn zeek_line_into(
    name: &str,
    rng: &mut Rng,
    n: u64,
    planted: Option<(Field, &str)>,
    out: &mut String,
) {
    let mut e = event(rng, n, zeek_kind(name));
    if let Some((f, v)) = planted {
        plant(&mut e, f, v);
    }
    out.push_str(&zeek_line(&e));
    out.push('\n');
}
