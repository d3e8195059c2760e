//! `shieldwall serve`: run the TAXII 2.1 hub.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::{Context, bail};
use shieldwall::{
    coalition::Coalition,
    config::{self, Checked, Config},
    demo, server,
    store::AnyStore,
};

/// Arguments of `shieldwall serve`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// Configuration file (TOML; `shieldwall init` writes a commented one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `server.listen`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Data directory (overrides `server.data_dir`).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Run the demo coalition (no configuration needed; loopback only).
    #[arg(long, conflicts_with = "config")]
    demo: bool,
}

/// Installs the log subscriber (`cli::logs`: `SHIELDWALL_LOG`, `--log-format`, `NO_COLOR`).
pub(crate) fn init_tracing() {
    super::logs::init();
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_tracing();
    runtime()?.block_on(run_async(args))
}

/// The configuration `serve` runs with: `--demo`'s, or `--config`'s with `--listen`/`--data`
/// applied (a relative `--data` is relative to the working directory, like any argument).
fn load(args: &Args) -> anyhow::Result<(Checked, String)> {
    if args.demo {
        let listen = args
            .listen
            .clone()
            .unwrap_or_else(|| "127.0.0.1:8443".to_owned());
        let addr: std::net::SocketAddr = listen
            .parse()
            .with_context(|| format!("--listen {listen}: not an address:port"))?;
        if !addr.ip().is_loopback() {
            bail!(
                "--demo listens on loopback only (127.0.0.1 or ::1), not {addr}: its passwords are public"
            );
        }
        let data = match &args.data {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!("shieldwall-demo-{}", std::process::id())),
        };
        let cfg = demo::config(&listen, &data)
            .map_err(|e| anyhow::anyhow!("cannot build the demo configuration: {e}"))?;
        return Ok((cfg.check("(demo)")?, "(demo)".to_owned()));
    }
    let Some(path) = &args.config else {
        bail!("give --config FILE (see `shieldwall init`) or --demo");
    };
    let source = path.display().to_string();
    let mut cfg = config::load(path, &config::process_env())?.config;
    if let Some(l) = &args.listen {
        cfg.server.listen.clone_from(l);
    }
    if let Some(d) = &args.data {
        cfg.server.data_dir = std::path::absolute(d).unwrap_or_else(|_| d.clone());
    }
    Ok((cfg.check(&source)?, source))
}

/// The TLS configuration of `checked`, if it serves HTTPS.
fn tls_config(
    checked: &Checked,
    source: &str,
) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    let server = &checked.config.server;
    Ok(match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(
            shieldwall::tls::server_config(cert, key, server.tls_client_ca.as_deref()).map_err(
                |e| {
                    let keys =
                        if server.tls_client_ca.as_deref() == Some(std::path::Path::new(&e.path)) {
                            "server.tls_client_ca"
                        } else {
                            "server.tls_cert/tls_key"
                        };
                    anyhow::anyhow!("{source}: {keys}: {e}")
                },
            )?,
        )),
        _ => None,
    })
}

/// What a reload cannot change: the settings that differ between `old` and `new` and need a
/// restart to take effect.
fn restart_only_changes(old: &Checked, new: &Checked) -> Vec<&'static str> {
    let (a, b) = (&old.config, &new.config);
    let mut out = Vec::new();
    if old.listen != new.listen {
        out.push("server.listen");
    }
    if old.database != new.database {
        out.push("server.database/data_dir");
    }
    if a.server.tls_cert.is_some() != b.server.tls_cert.is_some() {
        out.push("server.tls_cert (HTTP ↔ HTTPS)");
    }
    if a.server.header_read_timeout_seconds != b.server.header_read_timeout_seconds
        || a.server.idle_timeout_seconds != b.server.idle_timeout_seconds
        || a.server.max_connections != b.server.max_connections
    {
        out.push("server connection limits");
    }
    if a.server.metrics_listen != b.server.metrics_listen {
        out.push("server.metrics_listen");
    }
    if a.server.auth_concurrency != b.server.auth_concurrency {
        out.push("server.auth_concurrency");
    }
    // Peers follow live (`follow_peers`); turning the scheduled sync on or off does not.
    let sync = |c: &Config| serde_json::to_string(&c.sync).unwrap_or_default();
    if sync(a) != sync(b) {
        out.push("[sync] (scheduled sync)");
    }
    out
}

/// Gives the scheduled sync a new engine with every application swapped in (an admin change or
/// SIGHUP), so that it syncs the current peers under the current coalition (grants, trust
/// groups, collections): a peer added starts being synced, a removed one stops, a changed one
/// runs with its new settings, an unchanged one keeps its schedule. A peer whose client
/// cannot be made (its `*_env` variable is not set, its CA file unreadable) is left out and logged.
async fn follow_peers(
    mut apps: tokio::sync::watch::Receiver<shieldwall::taxii::AppState>,
    board: shieldwall::sync::StatusBoard,
    engines: tokio::sync::watch::Sender<shieldwall::sync::Engine>,
) {
    while apps.changed().await.is_ok() {
        let app = apps.borrow_and_update().clone();
        let (engine, skipped) = shieldwall::sync::Engine::new_skipping(
            app.store.clone(),
            app.coalition.clone(),
            app.peers.clone(),
            &|v| std::env::var(v).ok(),
        );
        for (peer, e) in skipped {
            tracing::error!(peer = %peer, error = %e, "Peer left out of the scheduled sync.");
        }
        let _ = engines.send(engine.with_status(board.clone()));
    }
}

/// Re-reads the configuration on every SIGHUP; swaps it in (with the admin state over it) when
/// it passes every check (and its TLS files load), otherwise logs why and keeps the running one.
#[cfg(unix)]
async fn reload_on_hangup(
    mut hangup: tokio::signal::unix::Signal,
    args: Args,
    live: Arc<server::Live>,
    reloader: Arc<server::Reloader>,
) {
    while hangup.recv().await.is_some() {
        if args.demo {
            tracing::info!("SIGHUP: the demo has no configuration file to re-read.");
            continue;
        }
        let (checked, source) = match load(&args) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "Reload refused; the running configuration stays.");
                continue;
            }
        };
        let tls = match tls_config(&checked, &source) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "Reload refused; the running configuration stays.");
                continue;
            }
        };
        let (running, now) = match reloader.rebootstrap(checked.config).await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "Reload refused; the running configuration stays.");
                continue;
            }
        };
        let restart = restart_only_changes(&running, &now);
        if !restart.is_empty() {
            tracing::warn!(settings = %restart.join(", "), "Changed settings that take effect only after a restart.");
        }
        if let Some(t) = tls
            && live.is_tls()
        {
            live.swap_tls(t);
        }
        tracing::info!(
            users = now.config.users.len(),
            api_keys = now.config.api_keys.len(),
            collections = now.config.collections.len(),
            "Configuration reloaded from {source}; credential caches cleared."
        );
    }
}

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    // Before anything else: from here on SIGHUP means "re-read the configuration", never "exit".
    #[cfg(unix)]
    let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot handle SIGHUP")?;
    let (bootstrap, source) = load(&args)?;
    let is_demo = args.demo;
    // The demo's own temporary folder goes when it stops (a `--data` folder stays).
    let _demo_folder = (args.demo && args.data.is_none())
        .then(|| RemoveOnExit(bootstrap.config.server.data_dir.clone()));
    let tls = tls_config(&bootstrap, &source)?;
    if let Some(limit) = server::raise_fd_limit()
        && (limit as usize) < bootstrap.config.server.max_connections + 64
    {
        tracing::warn!(
            limit,
            max_connections = bootstrap.config.server.max_connections,
            "The open-file limit is below server.max_connections: raise it (ulimit -n, LimitNOFILE)."
        );
    }
    let store = AnyStore::open(&bootstrap.database).await.with_context(|| {
        format!(
            "cannot open the database {}",
            config::redact_url(&bootstrap.database)
        )
    })?;
    // The file is the bootstrap; what the administration changed since is in the store.
    let (generation, checked) =
        shieldwall::services::admin::effective(&store, &bootstrap.config, &source)
            .await
            .context("cannot start with the admin state")?;
    if args.demo {
        let coalition = Coalition::from_config(&checked);
        let limits = shieldwall::publish::PublishLimits::from_server(&checked.config.server);
        let n = demo::seed(&store, &coalition, limits)
            .await
            .context("cannot seed the demo data")?;
        if n > 0 {
            hub::demo_coord::seed(&store, &std::sync::Arc::new(coalition))
                .await
                .context("cannot seed the demo coordination data")?;
            tracing::info!(objects = n, data = %checked.config.server.data_dir.display(), "Seeded the demo coalition.");
        }
    }
    let (listener, local) = server::bind(checked.listen).await.with_context(|| {
        if args.demo {
            format!(
                "cannot listen on {} (another program may hold the port: pick another with \
                 `shieldwall serve --demo --listen 127.0.0.1:8444`)",
                checked.listen
            )
        } else {
            format!("cannot listen on {}", checked.listen)
        }
    })?;
    let base_url = format!("{}://{local}", if tls.is_some() { "https" } else { "http" });
    let mut state = server::app_state(&checked, store.clone(), base_url.clone())
        .await
        .context("cannot read the cursor key")?;
    let (stop_sync, sync_stopped) = tokio::sync::oneshot::channel::<()>();
    // The scheduled sync follows the peers and collections of the application being served (the
    // file and the admin state), from the first one built.
    let sync_engine = if checked.config.sync.enabled {
        let engine = shieldwall::sync::Engine::new(
            store.clone(),
            state.coalition.clone(),
            checked.config.peers.clone(),
            &|v| std::env::var(v).ok(),
        )?;
        state.sync_status = Some(engine.status.clone());
        tracing::info!(peers = checked.config.peers.len(), "Scheduled sync is on.");
        Some(engine)
    } else {
        None
    };
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_task = match &checked.config.server.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (server.metrics_listen)"))?;
            tracing::info!(address = %addr, path = %checked.config.server.metrics_path, "Serving the metrics without authentication.");
            Some(tokio::spawn(shieldwall::metrics::serve_separately(
                listener,
                checked.config.server.metrics_path.clone(),
                store.clone(),
                async move {
                    let _ = metrics_stopped.await;
                },
            )))
        }
        None => None,
    };
    let live = server::Live::new(state.clone(), tls);
    let reloader = server::Reloader::new(
        live.clone(),
        state,
        bootstrap.config.clone(),
        generation,
        checked.clone(),
        &source,
    );
    // The console's views, read in the background while the server starts serving, and again
    // after each reload.
    let warm_up = hub::console::spawn_warm_up_following(reloader.subscribe());
    let admin_watch = tokio::spawn(server::watch_admin_state(
        reloader.clone(),
        server::ADMIN_POLL,
    ));
    let (sync_task, follow_task) = match sync_engine {
        Some(engine) => {
            let (engines, following) = tokio::sync::watch::channel(engine.clone());
            let follow = tokio::spawn(follow_peers(
                reloader.subscribe(),
                engine.status.clone(),
                engines,
            ));
            let run = tokio::spawn(shieldwall::sync::run_scheduled_following(
                following,
                async move {
                    let _ = sync_stopped.await;
                },
            ));
            (Some(run), Some(follow))
        }
        None => (None, None),
    };
    #[cfg(unix)]
    let hangup_task = tokio::spawn(reload_on_hangup(hangup, args, live.clone(), reloader));
    // Before the "serving" line: whoever reads it may stop the server at once.
    let shutdown = server::shutdown_signal();
    println!(
        "shieldwall: serving TAXII 2.1 on {base_url}/taxii2/ ({} store)",
        store.backend()
    );
    if is_demo {
        // After the "serving" line, and never fatal: whoever started the demo may have stopped
        // reading its output.
        let mut text = String::from("shieldwall: demo users (password `demo` for each):\n");
        for (name, member, role) in demo::USERS {
            text.push_str(&format!(
                "  {name:<12} member {member:<8} {}\n",
                role.as_str()
            ));
        }
        text.push_str(&format!(
            "  console: open {base_url}/ui/ in a browser and sign in as one of these users\n"
        ));
        text.push_str(&format!(
            "  try: curl -u {}:demo {base_url}/taxii2/\n",
            demo::USERS[0].0
        ));
        let mut out = std::io::stdout().lock();
        let _ = std::io::Write::write_all(&mut out, text.as_bytes());
        let _ = std::io::Write::flush(&mut out);
    }
    tracing::info!(address = %local, backend = store.backend(), "Listening.");
    server::run(
        listener,
        live,
        store,
        server::ConnSettings::from_config(&checked.config.server),
        shutdown,
    )
    .await
    .context("the server failed")?;
    warm_up.abort();
    #[cfg(unix)]
    hangup_task.abort();
    admin_watch.abort();
    if let Some(t) = follow_task {
        t.abort();
    }
    let _ = stop_sync.send(());
    let _ = stop_metrics.send(());
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = sync_task {
        let _ = task.await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes a folder when dropped (the demo's temporary data).
struct RemoveOnExit(std::path::PathBuf);

impl Drop for RemoveOnExit {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
