//! The walk-throughs of `docs/*.md` run as written, so that they cannot rot. A fenced block whose
//! info string is `sh walkthrough` is part of its document's walk-through; the blocks of one
//! document are joined, in order, into one `bash -euo pipefail` script run in a fresh temporary
//! folder with `shieldwall` on `PATH` being the binary under test. Every `127.0.0.1:PORT` (and
//! `localhost:PORT`) in a document is moved to a port free at the time, the same for every
//! mention, so servers the walk-through starts in the background listen on free loopback ports;
//! the script runs in its own process group, which is killed at the end, servers included.
//! A failure names the document, the block, the line in the document and the command.
//! Nothing here leaves the machine: the walk-throughs only talk to 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// The documents that hold a walk-through (every other one must hold none, so that a new one is
/// noticed and given its test).
const WALKTHROUGHS: [&str; 3] = ["COORDINATION.md", "FEDERATION.md", "OPERATIONS.md"];

/// What the walk-throughs use besides `shieldwall` and the shell's own utilities.
const TOOLS: [&str; 3] = ["curl", "jq", "openssl"];

/// The longest a walk-through may run.
const TIMEOUT: Duration = Duration::from_secs(240);

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// One runnable block: its first line's number in the document (1-based) and its lines.
struct Block {
    first_line: usize,
    lines: Vec<String>,
}

/// The `sh walkthrough` blocks of a Markdown text, in order.
fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<(String, Block)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    let fence = "```".to_owned()
                        + &"`".repeat(info.len() - info.trim_start_matches('`').len());
                    let words: Vec<&str> =
                        info.trim_start_matches('`').split_whitespace().collect();
                    let runnable = words.first() == Some(&"sh") && words.contains(&"walkthrough");
                    current = Some((
                        if runnable {
                            fence
                        } else {
                            format!("skip{fence}")
                        },
                        Block {
                            first_line: i + 2,
                            lines: Vec::new(),
                        },
                    ));
                }
            }
            Some((fence, block)) => {
                let closing = fence.trim_start_matches("skip");
                if trimmed.starts_with(closing) && trimmed.trim_start_matches('`').trim().is_empty()
                {
                    let (fence, block) = current.take().unwrap();
                    if !fence.starts_with("skip") {
                        out.push(block);
                    }
                } else {
                    block.lines.push(line.to_owned());
                }
            }
        }
    }
    assert!(current.is_none(), "a fenced block is not closed");
    out
}

/// A port free on 127.0.0.1 at the time of asking.
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Replaces every `127.0.0.1:PORT` and `localhost:PORT` by a free port, one per distinct PORT.
fn move_ports(text: &str, ports: &mut BTreeMap<String, u16>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["127.0.0.1:", "localhost:"]
            .iter()
            .filter_map(|h| rest.find(h).map(|at| (at, h.len())))
            .min();
        let Some((at, len)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits >= 2 {
            let port = ports
                .entry(rest[..digits].to_owned())
                .or_insert_with(free_port);
            out.push_str(&port.to_string());
            rest = &rest[digits..];
        }
    }
}

/// Runs the walk-through of `docs/NAME`; panics naming the block and line that failed.
fn run(name: &str) {
    if !testenv::tools(&format!("the walk-through of docs/{name}"), &TOOLS) {
        return;
    }
    let text = std::fs::read_to_string(docs_dir().join(name)).unwrap();
    let blocks = blocks(&text);
    assert!(
        !blocks.is_empty(),
        "docs/{name} has no `sh walkthrough` block"
    );

    // The script, and for each of its lines the block and the document line it came from.
    let mut ports = BTreeMap::new();
    let mut script = String::from(
        "set -euo pipefail\ntrap 'echo \"walkthrough-failed-at $LINENO $?\" >&2' ERR\n",
    );
    let mut origin: Vec<Option<(usize, usize)>> = vec![None, None];
    for (b, block) in blocks.iter().enumerate() {
        for (l, line) in block.lines.iter().enumerate() {
            script.push_str(&move_ports(line, &mut ports));
            script.push('\n');
            origin.push(Some((b + 1, block.first_line + l)));
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_shieldwall"), bin.join("shieldwall")).unwrap();
    let work = tmp.path().join("walk");
    std::fs::create_dir(&work).unwrap();
    let script_path = tmp.path().join("walkthrough.sh");
    std::fs::write(&script_path, &script).unwrap();
    let stdout_path = tmp.path().join("stdout");
    let stderr_path = tmp.path().join("stderr");

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let mut child = {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("bash");
        cmd.arg(&script_path)
            .current_dir(&work)
            .env_clear()
            .env("PATH", path)
            .env("HOME", tmp.path())
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env("SHIELDWALL_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .process_group(0);
        cmd.spawn().unwrap()
    };
    // Wait for the script without reaping it (WNOWAIT): while it is not reaped its process
    // group id cannot be reused, so the group kill below reaches only what it started.
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};
    let pid = Pid::from_child(&child);
    let finished = loop {
        let exited = waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
        )
        .unwrap();
        if exited.is_some() {
            break true;
        }
        if started.elapsed() > TIMEOUT {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the walk-through left running (servers in the background) goes with it.
    let _ = kill_process_group(pid, Signal::KILL);
    let status = child.wait().unwrap();
    let status = finished.then_some(status);
    let elapsed = started.elapsed();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let tail = |s: &str| -> String {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    let Some(status) = status else {
        panic!(
            "docs/{name}: the walk-through did not finish within {TIMEOUT:?}\n--- stdout\n{}\n--- stderr\n{}",
            tail(&stdout),
            tail(&stderr)
        );
    };
    if !status.success() {
        let at = stderr
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("walkthrough-failed-at "))
            .and_then(|l| l.split_whitespace().next()?.parse::<usize>().ok());
        let place = match at.and_then(|n| origin.get(n - 1).copied().flatten()) {
            Some((block, line)) => format!(
                "block {block}, line {line}: {}",
                text.lines().nth(line - 1).unwrap_or("").trim()
            ),
            None => "before its first command".to_owned(),
        };
        // The logs the walk-through's servers wrote (`*.log` in its folders) tell why.
        let mut logs = String::new();
        for dir in [work.clone()].into_iter().chain(
            std::fs::read_dir(&work)
                .unwrap()
                .flatten()
                .map(|e| e.path()),
        ) {
            for log in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = log.path();
                if path.extension().is_some_and(|e| e == "log") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    logs.push_str(&format!(
                        "--- {}\n{}\n",
                        path.strip_prefix(&work).unwrap_or(&path).display(),
                        tail(&text)
                    ));
                }
            }
        }
        panic!(
            "docs/{name}: the walk-through failed ({status}) at {place}\n--- stdout\n{}\n--- stderr\n{}\n{logs}",
            tail(&stdout),
            tail(&stderr)
        );
    }
    eprintln!(
        "docs/{name}: {} blocks, {} lines ran in {:.1} s",
        blocks.len(),
        origin.len() - 2,
        elapsed.as_secs_f64()
    );
}

#[test]
fn coordination() {
    run("COORDINATION.md");
}

#[test]
fn federation() {
    run("FEDERATION.md");
}

#[test]
fn operations() {
    run("OPERATIONS.md");
}

/// Every document with a walk-through has its test above, and the marker is spelt one way.
#[test]
fn every_walkthrough_is_tested() {
    for entry in std::fs::read_dir(docs_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let runnable = !blocks(&text).is_empty();
        assert_eq!(
            runnable,
            WALKTHROUGHS.contains(&name.as_str()),
            "docs/{name}: {} `sh walkthrough` blocks, but WALKTHROUGHS says otherwise",
            if runnable { "has" } else { "has no" }
        );
        for (i, line) in text.lines().enumerate() {
            let info = line.trim_start().trim_start_matches('`');
            if line.trim_start().starts_with("```") && info.contains("walkthrough") {
                assert!(
                    info.split_whitespace().collect::<Vec<_>>() == ["sh", "walkthrough"],
                    "docs/{name}:{}: write the marker as ```sh walkthrough",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn blocks_and_ports() {
    let md = "text\n```sh walkthrough\necho 127.0.0.1:8443\n```\n```sh\nnot run\n```\n```sh walkthrough\ncurl http://localhost:8443/ 127.0.0.1:9\n```\n";
    let b = blocks(md);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].first_line, 3);
    assert_eq!(b[1].first_line, 9);
    let mut ports = BTreeMap::new();
    let moved = move_ports(&b[1].lines[0], &mut ports);
    let port = ports["8443"];
    assert_eq!(moved, format!("curl http://localhost:{port}/ 127.0.0.1:9"));
    assert_eq!(
        move_ports("127.0.0.1:8443", &mut ports),
        format!("127.0.0.1:{port}")
    );
}
