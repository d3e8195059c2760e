//! `shieldwall serve`: run the TAXII 2.1 hub.

use std::{path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use shieldwall::{
    coalition::Coalition,
    config::{self, Config},
    demo, server,
    store::AnyStore,
};

/// Arguments of `shieldwall serve`.
#[derive(Debug, clap::Args)]
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

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SHIELDWALL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
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

async fn run_async(args: Args) -> anyhow::Result<ExitCode> {
    let (checked, source) = if args.demo {
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
        (cfg.check("(demo)")?, "(demo)".to_owned())
    } else {
        let Some(path) = &args.config else {
            bail!("give --config FILE (see `shieldwall init`) or --demo");
        };
        let source = path.display().to_string();
        let mut cfg = Config::load(path, &config::process_env())?.config;
        if let Some(l) = &args.listen {
            cfg.server.listen.clone_from(l);
        }
        if let Some(d) = &args.data {
            cfg.server.data_dir.clone_from(d);
        }
        (cfg.check(&source)?, source)
    };
    let server = &checked.config.server;
    let tls = match (&server.tls_cert, &server.tls_key) {
        (Some(cert), Some(key)) => Some(std::sync::Arc::new(
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
    };
    let store = AnyStore::open(&checked.database).await.with_context(|| {
        format!(
            "cannot open the database {}",
            config::redact_url(&checked.database)
        )
    })?;
    if args.demo {
        let coalition = Coalition::from_config(&checked);
        let n = demo::seed(&store, &coalition)
            .await
            .context("cannot seed the demo data")?;
        if n > 0 {
            tracing::info!(objects = n, data = %checked.config.server.data_dir.display(), "Seeded the demo coalition.");
        }
    }
    let (listener, local) = server::bind(checked.listen)
        .await
        .with_context(|| format!("cannot listen on {}", checked.listen))?;
    let base_url = format!("{}://{local}", if tls.is_some() { "https" } else { "http" });
    let mut state = server::app_state(&checked, store.clone(), base_url.clone())
        .await
        .context("cannot read the cursor key")?;
    let (stop_sync, sync_stopped) = tokio::sync::oneshot::channel::<()>();
    let sync_task = if checked.config.sync.enabled && !checked.config.peers.is_empty() {
        let engine = shieldwall::sync::Engine::new(
            store.clone(),
            state.coalition.clone(),
            checked.config.peers.clone(),
            &|v| std::env::var(v).ok(),
        )?;
        state.sync_status = Some(engine.status.clone());
        tracing::info!(peers = checked.config.peers.len(), "Scheduled sync is on.");
        Some(tokio::spawn(shieldwall::sync::run_scheduled(
            engine,
            None,
            async move {
                let _ = sync_stopped.await;
            },
        )))
    } else {
        None
    };
    println!(
        "shieldwall: serving TAXII 2.1 on {base_url}/taxii2/ ({} store)",
        store.backend()
    );
    tracing::info!(address = %local, backend = store.backend(), "Listening.");
    match tls {
        Some(tls) => server::serve_tls(listener, state, tls, server::shutdown_signal()).await,
        None => server::serve(listener, state, server::shutdown_signal()).await,
    }
    .context("the server failed")?;
    let _ = stop_sync.send(());
    if let Some(task) = sync_task {
        let _ = task.await;
    }
    Ok(ExitCode::SUCCESS)
}
