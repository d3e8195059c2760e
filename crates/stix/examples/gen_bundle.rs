//! Writes a synthetic, valid STIX 2.1 bundle to standard output.
//!
//! `cargo run --release -p shieldwall-stix --example gen_bundle -- 3000000 > /tmp/big.json`
//! (about 2 GB for 3.5 million objects).

#[path = "../benches/support/generate.rs"]
mod generate;

fn main() -> std::io::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    generate::write_bundle(&mut w, n)
}
