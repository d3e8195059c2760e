//! The OASIS reference TAXII client (Python `taxii2-client`) drives a real `shieldwall serve
//! --demo` process over HTTP on 127.0.0.1 through every endpoint (see `taxii2_client_e2e.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn taxii2_client_drives_every_endpoint() {
    let Some(python) = testenv::python("taxii2-client end-to-end") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shieldwall"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .and_then(|u| u.strip_suffix("/taxii2/"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/taxii2_client_e2e.py");
    let out = Command::new(python)
        .args([script, &base, "ee-analyst", "demo", "Baltic sharing"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "taxii2-client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("taxii2-client end-to-end: OK"), "{stdout}");
}
