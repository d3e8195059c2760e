//! `shieldwall sync [--peer P] [--once]`: pull from and push to the configured peers over TAXII
//! 2.1 under the egress policy; `--explain OBJECT-ID [--peer P]` says whether each version of an
//! object was sent (acknowledged by the peer), held back (with the recorded reason) or is
//! pending, and lists what was refused from that peer (exit 0 when at least one was sent).

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::{
    config::{PeerCollectionConfig, PeerConfig},
    sync::{self, Engine},
};

/// Arguments of `shieldwall sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only this peer.
    #[arg(long, value_name = "PEER")]
    peer: Option<String>,
    /// Run every mapping once and exit (default: keep running on each mapping's interval).
    #[arg(long)]
    once: bool,
    /// Say why each version of this object would or would not be sent to `--peer` (the only
    /// peer when there is one). Reads the store only: contacts no peer, needs no peer's secret.
    #[arg(long, value_name = "OBJECT-ID")]
    explain: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Configuration file.
    #[arg(long, default_value = "shieldwall.toml")]
    config: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::serve::init_tracing();
    super::serve::runtime()?.block_on(run_async(args))
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let checked = shieldwall::config::load(&args.config, &shieldwall::config::process_env())?;
    // Peers come from the file and the admin state; without a store there is only the file.
    let no_store = shieldwall::store::AnyStore::missing(&checked.database)
        .await
        .unwrap_or(None)
        .is_some();
    if no_store && checked.config.peers.is_empty() {
        bail!("{}: no [[peers]] configured", args.config.display());
    }
    // `--explain` only reads: it must not create an empty store and explain nothing.
    let node = if args.explain.is_some() {
        super::node::Node::open_existing(&args.config).await?
    } else {
        super::node::Node::open(&args.config).await?
    };
    let peers: Vec<PeerConfig> = node.peers.clone();
    if let Some(p) = &args.peer
        && !peers.iter().any(|x| &x.name == p)
    {
        bail!("no peer `{p}` in {}", args.config.display());
    }
    if peers.is_empty() {
        bail!("{}: no [[peers]] configured", args.config.display());
    }
    let explaining = args.explain.is_some();
    // `--explain` contacts no peer: a secret that is not in the environment is not needed.
    let env = |name: &str| env_var(name).or_else(|| explaining.then(String::new));
    let only_peer = match (&args.peer, peers.as_slice()) {
        (Some(p), _) => Some(p.clone()),
        (None, [one]) => Some(one.name.clone()),
        (None, _) => None,
    };
    let names: Vec<String> = peers.iter().map(|p| p.name.clone()).collect();
    let engine = Engine::new(node.store.clone(), node.coalition.clone(), peers, &env)?;
    if let Some(id) = &args.explain {
        let Some(peer) = only_peer.as_deref() else {
            bail!("--explain: give --peer, one of: {}", names.join(", "));
        };
        let ex = engine.explain(id, peer).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&ex)?);
        } else if ex.is_empty() {
            println!(
                "{id}: not stored in any collection that is pushed to `{peer}`: nothing to send"
            );
        } else {
            for e in &ex {
                if e.verdict == "refused" {
                    println!(
                        "{id} version {} from {peer} into {}: REFUSED ({}): {} (at {})",
                        e.version,
                        e.collection,
                        e.held_back.as_deref().unwrap_or(""),
                        e.why,
                        e.received
                    );
                    continue;
                }
                let verdict = match (e.verdict, &e.held_back) {
                    ("sent", _) => "SENT".to_owned(),
                    ("held", Some(r)) => format!("HELD BACK ({r})"),
                    (_, _) => "PENDING".to_owned(),
                };
                println!(
                    "{id} version {} in {} → {peer}/{}: {verdict}: {} ({}; received {} from {})",
                    e.version, e.collection, e.remote, e.why, e.tlp, e.received, e.source
                );
            }
        }
        return Ok(if ex.iter().any(|e| e.verdict == "sent") {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if !args.once {
        sync::run_scheduled(
            engine,
            args.peer.clone(),
            shieldwall::server::shutdown_signal(),
        )
        .await;
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    let mut all = serde_json::Map::new();
    for p in engine.peers().to_vec() {
        if args.peer.as_ref().is_some_and(|only| only != &p.name) {
            continue;
        }
        let every = |_: &PeerCollectionConfig| true;
        match engine.run_peer(&p.name, &every).await {
            Ok(reports) => {
                if args.json {
                    all.insert(p.name.clone(), serde_json::to_value(&reports)?);
                } else {
                    for r in &reports {
                        let held: Vec<String> = r
                            .held_back
                            .iter()
                            .map(|(k, n)| format!("{n} {k}"))
                            .collect();
                        println!(
                            "{}: {} ↔ {}: pulled {} new ({} received, {} refused), pushed {} ({} refused by the peer), held back: {}",
                            p.name,
                            r.local,
                            r.remote,
                            r.pulled_stored,
                            r.pulled_received,
                            r.pulled_refused,
                            r.pushed,
                            r.push_refused_by_peer,
                            if held.is_empty() {
                                "none".to_owned()
                            } else {
                                held.join(", ")
                            }
                        );
                    }
                }
            }
            Err(e) => {
                failed = true;
                if args.json {
                    all.insert(p.name.clone(), serde_json::json!({"error": e.to_string()}));
                } else {
                    eprintln!("shieldwall: sync with `{}` failed: {e}", p.name);
                }
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Object(all))
                .context("cannot print the report")?
        );
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
