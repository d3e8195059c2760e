//! Test-only helpers that find what the test suites need outside the repository: the read-only
//! folder of OASIS conformance vectors and real data sets (`SHIELDWALL_SHARED`), the Python reference tools
//! (a virtualenv that `.ci/run` creates) and the services on 127.0.0.1 (PostgreSQL).
//!
//! Each finder returns `None` when the thing is absent, after printing a clear `SKIPPED:` line,
//! unless the matching `SHIELDWALL_REQUIRE_*` variable is set (as `.ci/run` does), in which case
//! the test fails instead: in CI nothing may be skipped silently.
//!
//! What it must never do: be a dependency of anything but tests, benches and examples.

use std::path::{Path, PathBuf};

/// Environment variable naming the folder that holds `conformance/` and `data/` (default: the folder
/// `shared` beside the workspace root).
pub const SHARED_ENV: &str = "SHIELDWALL_SHARED";
/// Set to `1` to turn a missing folder of conformance vectors into a test failure.
pub const REQUIRE_SHARED_ENV: &str = "SHIELDWALL_REQUIRE_SHARED";
/// Path of a Python interpreter with the reference tools installed (`stix2`, `stix2-validator`,
/// `stix2-patterns`, `stix2-matcher`, `taxii2-client`, `medallion`, `pymisp`).
pub const PYTHON_ENV: &str = "SHIELDWALL_PYTHON";
/// Set to `1` to turn a missing Python toolset into a test failure.
pub const REQUIRE_PYTHON_ENV: &str = "SHIELDWALL_REQUIRE_PYTHON";
/// PostgreSQL URL for the PostgreSQL half of the store tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
pub const POSTGRES_ENV: &str = "SHIELDWALL_TEST_POSTGRES";
/// Set to `1` to turn a missing PostgreSQL URL into a test failure.
pub const REQUIRE_POSTGRES_ENV: &str = "SHIELDWALL_REQUIRE_POSTGRES";

/// The workspace root (the folder holding the top `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // crates/testenv -> crates -> root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn skip(var: &str, what: &str, why: &str) {
    assert!(
        !required(var),
        "{what} is required here ({var}=1) but {why}"
    );
    eprintln!("SKIPPED: {what}: {why}");
}

/// The `shared/` folder, or `None` (after printing why) when it is absent.
pub fn shared_dir(what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(SHARED_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("..").join("shared"));
    if dir.join("conformance").is_dir() {
        Some(dir)
    } else {
        skip(
            REQUIRE_SHARED_ENV,
            what,
            &format!(
                "{} has no conformance/ folder (set {SHARED_ENV})",
                dir.display()
            ),
        );
        None
    }
}

/// A file below `shared/`, or `None` (after printing why) when it is absent.
pub fn shared_file(what: &str, relative: &str) -> Option<PathBuf> {
    let path = shared_dir(what)?.join(relative);
    if path.exists() {
        Some(path)
    } else {
        skip(
            REQUIRE_SHARED_ENV,
            what,
            &format!("{} is missing", path.display()),
        );
        None
    }
}

/// The Python interpreter with the reference tools, or `None` (after printing why).
pub fn python(what: &str) -> Option<PathBuf> {
    let venv = workspace_root().join(".venv").join("bin").join("python");
    let path = std::env::var_os(PYTHON_ENV)
        .map(PathBuf::from)
        .or_else(|| venv.exists().then_some(venv));
    match path {
        Some(p) if p.exists() => Some(p),
        _ => {
            skip(
                REQUIRE_PYTHON_ENV,
                what,
                &format!(
                    "no Python reference tools ({PYTHON_ENV} unset and no .venv; run .ci/run)"
                ),
            );
            None
        }
    }
}

/// The PostgreSQL URL for tests, or `None` (after printing why).
pub fn postgres_url(what: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip(
                REQUIRE_POSTGRES_ENV,
                what,
                &format!(
                    "{POSTGRES_ENV} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
                ),
            );
            None
        }
    }
}

/// Set to `1` to turn a missing headless browser into a test failure.
pub const REQUIRE_CHROMIUM_ENV: &str = "SHIELDWALL_REQUIRE_CHROMIUM";

/// A Chromium (Debian's `chromium`, or `chromium-browser`, `google-chrome`) that answers
/// `--version`, or `None` (after printing why).
pub fn chromium(what: &str) -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from);
    if found.is_none() {
        skip(
            REQUIRE_CHROMIUM_ENV,
            what,
            "no chromium, chromium-browser or google-chrome on PATH",
        );
    }
    found
}

/// Set to `1` to turn a missing command-line tool (`tools`) into a test failure.
pub const REQUIRE_TOOLS_ENV: &str = "SHIELDWALL_REQUIRE_TOOLS";

/// Whether every one of `tools` is a command on `PATH`; when one is not, prints why (or fails
/// under `SHIELDWALL_REQUIRE_TOOLS=1`) and returns `false`.
pub fn tools(what: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !std::process::Command::new("sh")
                .args(["-c", &format!("command -v '{t}'")])
                .stdout(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(
        REQUIRE_TOOLS_ENV,
        what,
        &format!("{} not on PATH", missing.join(", ")),
    );
    false
}

/// A small seeded generator (SplitMix64) for the tests that generate their inputs, so that a
/// seed names one run exactly.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next_u64() % 100 < pct
    }

    /// One item of `xs` (not empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    /// One item of `xs` (not empty), borrowed.
    pub fn pick_ref<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// `k` distinct items of `xs` (all of them when `k >= xs.len()`), in their order.
    pub fn sample<'a, T>(&mut self, xs: &'a [T], k: usize) -> Vec<&'a T> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        for i in (1..idx.len()).rev() {
            idx.swap(i, self.below(i + 1));
        }
        idx.truncate(k);
        idx.sort_unstable();
        idx.into_iter().map(|i| &xs[i]).collect()
    }

    /// A UUID of the given version (RFC 4122 variant), hyphenated, lower case.
    pub fn uuid(&mut self, version: u8) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        b[6] = (b[6] & 0x0f) | (version << 4);
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}
