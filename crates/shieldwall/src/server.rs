//! Running a node: open the store, resolve the coalition, build the TAXII application, listen.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::{
    auth::Authenticator,
    coalition::Coalition,
    config::Checked,
    store::{AnyStore, Store, StoreError},
    taxii::{self, AppState, Discovery, Limits, cursor::CursorKey},
    timestamps,
};

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| handle)
        })
        .clone()
}

/// Builds the application state for a checked configuration over an opened store.
pub async fn app_state(
    checked: &Checked,
    store: AnyStore,
    base_url: String,
) -> Result<AppState, StoreError> {
    let s = &checked.config.server;
    let key = match &s.cursor_key {
        Some(hex) => (0..hex.len())
            .step_by(2)
            .filter_map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect(),
        None => store.cursor_key().await?,
    };
    let coalition = Arc::new(Coalition::from_config(checked));
    Ok(AppState {
        auth: Authenticator::new(
            coalition.clone(),
            Duration::from_secs(s.credential_cache_seconds),
        ),
        coalition,
        store,
        cursors: CursorKey::new(key),
        limits: Limits {
            max_content_length: s.max_content_length,
            max_page_size: s.max_page_size,
            default_page_size: s.default_page_size,
            status_retention_us: i64::from(s.status_retention_hours) * 3_600_000_000,
            request_timeout: Duration::from_secs(s.request_timeout_seconds),
        },
        discovery: Discovery {
            title: s.title.clone(),
            description: s.description.clone(),
            contact: s.contact.clone(),
        },
        base_url,
        metrics: metrics_handle(),
        metrics_path: s.metrics_path.clone(),
        sync_status: None,
    })
}

/// Binds the listener (backlog ≥ 1024) and returns it with its actual address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(1024)?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

fn spawn_purger(store: AnyStore) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match store.purge_statuses(timestamps::now_us()).await {
                Ok(n) if n > 0 => tracing::info!(count = n, "Forgot expired status resources."),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Could not purge status resources."),
            }
        }
    })
}

/// Serves the application until `shutdown` resolves; forgets expired status resources hourly.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = spawn_purger(state.store.clone());
    let app = taxii::router(state);
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    purger.abort();
    result
}

/// Serves the application over HTTPS (HTTP/1.1 inside TLS) until `shutdown` resolves, then lets
/// the connections in progress finish (at most 30 s). A failed handshake closes that connection
/// only.
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = spawn_purger(state.store.clone());
    let app = taxii::router(state);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "Cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed.");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out.");
                        return;
                    }
                };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%remote, error = %e, "Connection ended with an error.");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("Connections still open after 30 s; closing them.");
        }
    }
    purger.abort();
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutting down.");
}
