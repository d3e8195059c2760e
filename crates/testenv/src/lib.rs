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
