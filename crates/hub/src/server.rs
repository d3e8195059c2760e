//! Running a node: open the store, resolve the coalition, build the TAXII application, listen.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use arc_swap::ArcSwap;
use tokio::io::{AsyncRead, AsyncWrite};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::{
    audit::Auditor,
    auth::{Authenticator, Guard},
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
            let installed = metrics::set_global_recorder(recorder).ok().map(|()| handle);
            if installed.is_some() {
                crate::metrics::describe();
            }
            installed
        })
        .clone()
}

/// Builds the application state for a checked configuration over an opened store.
pub async fn app_state(
    checked: &Checked,
    store: AnyStore,
    base_url: String,
) -> Result<AppState, StoreError> {
    let guard = Guard::new(checked.config.server.auth_concurrency);
    app_state_with(checked, store, base_url, guard).await
}

/// The application state for a configuration re-read while serving: same store, base URL,
/// verification guard (slots, memory, failed-login throttle) and sync status as `old`; new
/// coalition, users, keys, limits and an empty credential cache.
pub async fn reload_state(old: &AppState, checked: &Checked) -> Result<AppState, StoreError> {
    let mut state = app_state_inner(
        checked,
        old.store.clone(),
        old.base_url.clone(),
        old.auth.guard().clone(),
        old.audit.clone(),
    )
    .await?;
    state.sync_status = old.sync_status.clone();
    state.admin.clone_from(&old.admin);
    // Console sessions survive a reload, except those whose user is gone or changed.
    state.console = old.console.clone();
    state.console.sessions.retain_valid(&state.coalition.users);
    Ok(state)
}

/// [`app_state`] verifying passwords under `guard`.
pub async fn app_state_with(
    checked: &Checked,
    store: AnyStore,
    base_url: String,
    guard: Arc<Guard>,
) -> Result<AppState, StoreError> {
    let journal = open_journal(checked, &store).await?;
    let audit = Auditor::start(store.clone(), journal);
    if !crate::audit::reads_recorded() {
        // The trail itself says when reads went unrecorded (a benchmark's process).
        audit
            .record(
                crate::audit_chain::Entry::new("node", "audit-reads-off", "node", "*", "off")
                    .detail(
                        "SHIELDWALL_BENCH_NO_READ_AUDIT=1: this process records no read of RED or \
                     AMBER+STRICT objects (benchmarks only)",
                    ),
            )
            .await
            .map_err(|e| StoreError::Journal(e.to_string()))?;
    }
    app_state_inner(checked, store, base_url, guard, audit).await
}

/// This node's audit journal (`server.audit_journal_dir`), after replaying what a stopped or
/// killed process left in it; none over an in-memory SQLite store (nothing outlives the process).
pub async fn open_journal(
    checked: &Checked,
    store: &AnyStore,
) -> Result<Option<crate::store::journal::Journal>, StoreError> {
    if checked.database.contains(":memory:") {
        return Ok(None);
    }
    let dir = checked.audit_journal_dir();
    crate::store::journal::recover(store, &dir).await?;
    let max = checked
        .config
        .server
        .audit_journal_max_mb
        .saturating_mul(1 << 20);
    crate::store::journal::Journal::open(&dir, max)
        .map(Some)
        .map_err(|e| StoreError::Journal(format!("{}: {e}", dir.display())))
}

async fn app_state_inner(
    checked: &Checked,
    store: AnyStore,
    base_url: String,
    guard: Arc<Guard>,
    audit: Auditor,
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
    let admin = Some(crate::services::admin::Admin::new(
        store.clone(),
        Arc::new(checked.config.clone()),
    ));
    Ok(AppState {
        admin,
        auth: Authenticator::with_guard(
            coalition.clone(),
            Duration::from_secs(s.credential_cache_seconds),
            guard,
        )
        .with_audit(audit.clone()),
        audit,
        coalition,
        store,
        cursors: CursorKey::new(key),
        limits: Limits {
            max_content_length: s.max_content_length,
            max_page_size: s.max_page_size,
            default_page_size: s.default_page_size,
            status_retention_us: crate::publish::PublishLimits::from_server(s).status_retention_us,
            request_timeout: Duration::from_secs(s.request_timeout_seconds),
        },
        discovery: Discovery {
            title: s.title.clone(),
            description: s.description.clone(),
            contact: s.contact.clone(),
        },
        base_url,
        // On `metrics_listen` instead of the main listener when that is set.
        metrics: metrics_handle().filter(|_| s.metrics_listen.is_none()),
        metrics_path: s.metrics_path.clone(),
        sync_status: None,
        console: crate::console::Console::default(),
        peers: checked.config.peers.clone(),
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

/// How connections are kept in check: header-read and idle timeouts and a cap on open
/// connections (see [`run`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    /// Time for a request header, from when the connection is ready for it (also the idle
    /// keep-alive limit and the TLS handshake limit).
    pub header_read_timeout: Duration,
    /// Time without a byte read or written, no request being handled, before a connection closes.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnSettings {
    fn default() -> Self {
        ConnSettings::from_config(&crate::config::ServerConfig::default())
    }
}

impl ConnSettings {
    /// The settings of a `[server]` section.
    pub fn from_config(s: &crate::config::ServerConfig) -> ConnSettings {
        ConnSettings {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_seconds.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout_seconds.max(1)),
            max_connections: s.max_connections.max(1),
        }
    }
}

/// What a running server serves, swappable while it runs: the application (routes over the
/// current coalition, users, keys and limits) and, over HTTPS, the TLS configuration. Each
/// request reads the application once; a swap takes effect from the next request.
pub struct Live {
    router: ArcSwap<axum::Router>,
    tls: Option<ArcSwap<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Serves `state`'s application, over TLS when `tls` is given.
    pub fn new(state: AppState, tls: Option<Arc<rustls::ServerConfig>>) -> Arc<Live> {
        Arc::new(Live {
            router: ArcSwap::from_pointee(taxii::router(state)),
            tls: tls.map(ArcSwap::new),
        })
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `state` from the next request on.
    pub fn swap_state(&self, state: AppState) {
        self.router.store(Arc::new(taxii::router(state)));
    }

    /// Uses `tls` for the next handshakes (no effect on a plain HTTP server).
    pub fn swap_tls(&self, tls: Arc<rustls::ServerConfig>) {
        if let Some(t) = &self.tls {
            t.store(tls);
        }
    }
}

/// How often a serving node reads the admin state's generation.
pub const ADMIN_POLL: Duration = Duration::from_millis(250);

/// What a running node was built from: its bootstrap configuration (the file with the
/// environment's overrides), the admin state's generation, the effective configuration of both,
/// and the application serving it.
#[derive(Debug)]
struct Running {
    bootstrap: Arc<crate::config::Config>,
    generation: i64,
    /// A generation that was refused (logged once, not at every poll).
    refused: Option<i64>,
    effective: Checked,
    state: AppState,
}

/// Keeps a serving node in step with its configuration file (on SIGHUP, [`Reloader::rebootstrap`])
/// and with the admin state in the store (polled, [`Reloader::refresh`]): each rebuilds the
/// whole application from the file with the state over it and swaps it in atomically
/// ([`Live::swap_state`]); a configuration that does not hold is refused and the running one
/// kept. Several nodes on one database each poll, so a change made on one is served by all
/// within [`ADMIN_POLL`] plus a rebuild.
#[derive(Debug)]
pub struct Reloader {
    live: Arc<Live>,
    source: String,
    running: tokio::sync::Mutex<Running>,
    /// The application last swapped in, for what follows it besides requests (the scheduled
    /// sync's peers and collections).
    published: tokio::sync::watch::Sender<AppState>,
}

impl Reloader {
    /// A reloader for `live`, which serves `state`, built from `effective` (`bootstrap` with the
    /// admin state of `generation` over it). Sets `state`'s administration to `bootstrap`'s.
    pub fn new(
        live: Arc<Live>,
        mut state: AppState,
        bootstrap: crate::config::Config,
        generation: i64,
        effective: Checked,
        source: &str,
    ) -> Arc<Reloader> {
        let bootstrap = Arc::new(bootstrap);
        state.admin = Some(crate::services::admin::Admin::new(
            state.store.clone(),
            bootstrap.clone(),
        ));
        live.swap_state(state.clone());
        let (published, _) = tokio::sync::watch::channel(state.clone());
        Arc::new(Reloader {
            live,
            published,
            source: source.to_owned(),
            running: tokio::sync::Mutex::new(Running {
                bootstrap,
                generation,
                refused: None,
                effective,
                state,
            }),
        })
    }

    /// The application being served, and every one swapped in after it (on SIGHUP or a new
    /// admin state generation).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<AppState> {
        self.published.subscribe()
    }

    /// The effective configuration being served.
    pub async fn effective(&self) -> Checked {
        self.running.lock().await.effective.clone()
    }

    /// Rebuilds and swaps in the application when the admin state's generation moved: `Ok(true)`
    /// when it did, `Ok(false)` when nothing changed, `Err` (the running application stays)
    /// when the new state cannot be read or does not hold.
    pub async fn refresh(&self) -> Result<bool, String> {
        let mut running = self.running.lock().await;
        let generation = running
            .state
            .store
            .admin_generation()
            .await
            .map_err(|e| e.to_string())?;
        if generation == running.generation || running.refused == Some(generation) {
            return Ok(false);
        }
        let bootstrap = running.bootstrap.clone();
        match self.rebuild(&mut running, bootstrap).await {
            Ok(_) => Ok(true),
            Err(e) => {
                running.refused = Some(generation);
                Err(e)
            }
        }
    }

    /// Takes a new bootstrap configuration (the file re-read on SIGHUP), with the current admin
    /// state over it: the configuration served before and the one served now, or why not (the
    /// running one stays).
    pub async fn rebootstrap(
        &self,
        bootstrap: crate::config::Config,
    ) -> Result<(Checked, Checked), String> {
        let mut running = self.running.lock().await;
        let old = running.effective.clone();
        let new = self.rebuild(&mut running, Arc::new(bootstrap)).await?;
        Ok((old, new))
    }

    async fn rebuild(
        &self,
        running: &mut Running,
        bootstrap: Arc<crate::config::Config>,
    ) -> Result<Checked, String> {
        let store = running.state.store.clone();
        let (generation, checked) =
            crate::services::admin::effective(&store, &bootstrap, &self.source)
                .await
                .map_err(|e| e.to_string())?;
        let mut state = reload_state(&running.state, &checked)
            .await
            .map_err(|e| e.to_string())?;
        state.admin = Some(crate::services::admin::Admin::new(store, bootstrap.clone()));
        self.live.swap_state(state.clone());
        self.published.send_replace(state.clone());
        running.bootstrap = bootstrap;
        running.generation = generation;
        running.refused = None;
        running.effective = checked.clone();
        running.state = state;
        Ok(checked)
    }
}

/// Polls the admin state every `every` and applies a new generation ([`Reloader::refresh`]),
/// until the task is dropped.
pub async fn watch_admin_state(reloader: Arc<Reloader>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The same failure (a database that is down) is logged once, not four times a second.
    let mut last_error: Option<String> = None;
    loop {
        tick.tick().await;
        let result = reloader.refresh().await;
        match &result {
            Err(e) if last_error.as_ref() == Some(e) => continue,
            Err(e) => last_error = Some(e.clone()),
            Ok(_) => last_error = None,
        }
        match result {
            Ok(true) => {
                let g = reloader.running.lock().await.generation;
                tracing::info!(
                    generation = g,
                    "Admin state changed: application rebuilt; credential caches cleared."
                );
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, "Admin state refused; the running configuration stays.");
            }
        }
    }
}

/// Per-connection bookkeeping: requests in progress, last byte moved, eviction.
#[derive(Debug)]
struct ConnState {
    in_flight: AtomicUsize,
    last_io_ms: AtomicU64,
    evict: tokio::sync::Notify,
}

/// The open connections in accept order.
#[derive(Debug, Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<ConnState>>>,
}

impl Registry {
    /// Registers a new connection; at the cap, first closes the oldest connection with no
    /// request in progress. `false` when every connection is busy (the new one is not served).
    fn admit(&self, id: u64, state: Arc<ConnState>, cap: usize) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if conns.len() >= cap {
            let victim = conns
                .iter()
                .find(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
                .map(|(k, _)| *k);
            match victim.and_then(|k| conns.remove(&k)) {
                Some(c) => {
                    c.evict.notify_one();
                    metrics::counter!("shieldwall_connections_evicted_total").increment(1);
                }
                None => {
                    metrics::counter!("shieldwall_connections_refused_total").increment(1);
                    return false;
                }
            }
        }
        conns.insert(id, state);
        metrics::gauge!("shieldwall_connections_open").set(conns.len() as f64);
        true
    }

    fn remove(&self, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.remove(&id);
        metrics::gauge!("shieldwall_connections_open").set(conns.len() as f64);
    }
}

/// Milliseconds since the process's first call (a monotonic clock in an atomic).
fn now_ms() -> u64 {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// A socket that notes the time of every byte it moves.
struct ActivityIo {
    inner: tokio::net::TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.last_io_ms.store(now_ms(), Ordering::Release);
        }
        r
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.state.last_io_ms.store(now_ms(), Ordering::Release);
        }
        r
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Resolves when the connection has had no request in progress and moved no byte for `idle`.
async fn idle_expired(state: &ConnState, idle: Duration) {
    let idle_ms = idle.as_millis() as u64;
    loop {
        let last = state.last_io_ms.load(Ordering::Acquire);
        let now = now_ms();
        if state.in_flight.load(Ordering::Acquire) == 0 && now.saturating_sub(last) >= idle_ms {
            return;
        }
        let wait = (last + idle_ms)
            .saturating_sub(now)
            .max(idle_ms / 4)
            .max(50);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// Decrements a connection's requests in progress when a request is answered (or dropped).
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.last_io_ms.store(now_ms(), Ordering::Release);
    }
}

/// Serves one accepted connection (TLS handshake first when configured) until it ends, is
/// evicted, or stays idle too long.
async fn serve_connection(
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    live: Arc<Live>,
    settings: ConnSettings,
    state: Arc<ConnState>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let io = ActivityIo {
        inner: tcp,
        state: state.clone(),
    };
    let service = {
        let live = live.clone();
        let state = state.clone();
        hyper::service::service_fn(move |req: axum::extract::Request<hyper::body::Incoming>| {
            let router = live.router.load_full();
            state.in_flight.fetch_add(1, Ordering::AcqRel);
            let guard = InFlight(state.clone());
            async move {
                let _guard = guard;
                let app = axum::Router::clone(&router);
                crate::auth::CLIENT_ADDR
                    .scope(remote, tower::ServiceExt::oneshot(app, req))
                    .await
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .keep_alive(true);
    let idle = idle_expired(&state, settings.idle_timeout);
    let evicted = state.evict.notified();
    tokio::pin!(idle, evicted);
    let result = match &live.tls {
        None => {
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
            tokio::select! {
                r = watcher.watch(conn) => r.err(),
                () = &mut evicted => { tracing::debug!(%remote, "Connection closed to admit a new one."); None }
                () = &mut idle => { tracing::debug!(%remote, "Idle connection closed."); None }
            }
        }
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.load_full());
            let handshake = tokio::time::timeout(settings.header_read_timeout, acceptor.accept(io));
            let stream = tokio::select! {
                r = handshake => match r {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, error = %e, "TLS handshake failed.");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out.");
                        return;
                    }
                },
                () = &mut evicted => return,
            };
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                r = watcher.watch(conn) => r.err(),
                () = &mut evicted => { tracing::debug!(%remote, "Connection closed to admit a new one."); None }
                () = &mut idle => { tracing::debug!(%remote, "Idle connection closed."); None }
            }
        }
    };
    if let Some(e) = result {
        tracing::debug!(%remote, error = %e, "Connection ended with an error.");
    }
}

/// Serves `live` on `listener` until `shutdown` resolves, then lets the requests in progress
/// finish (at most 30 s). Each connection must send a request header within
/// `header_read_timeout` of being ready for one (which also bounds keep-alive idleness), is
/// closed after `idle_timeout` without a byte moved and no request in progress, and at most
/// `max_connections` are open: at the cap a new connection closes the oldest one that has no
/// request in progress, or is itself closed when every connection is busy. Forgets expired
/// status resources hourly.
pub async fn run(
    listener: TcpListener,
    live: Arc<Live>,
    store: AnyStore,
    settings: ConnSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let purger = spawn_purger(store);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let registry = Arc::new(Registry::default());
    let mut next_id: u64 = 0;
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
        next_id += 1;
        let id = next_id;
        let state = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            last_io_ms: AtomicU64::new(now_ms()),
            evict: tokio::sync::Notify::new(),
        });
        if !registry.admit(id, state.clone(), settings.max_connections) {
            tracing::debug!(%remote, "Every connection is busy; closing the new one.");
            drop(tcp);
            continue;
        }
        let live = live.clone();
        let watcher = graceful.watcher();
        let registry = registry.clone();
        tokio::spawn(async move {
            serve_connection(tcp, remote, live, settings, state, watcher).await;
            registry.remove(id);
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

/// Serves the application over HTTP until `shutdown` resolves (default connection settings).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let warm_up = crate::console::spawn_warm_up(&state);
    let served = run(
        listener,
        Live::new(state, None),
        store,
        ConnSettings::default(),
        shutdown,
    )
    .await;
    warm_up.abort();
    served
}

/// Serves the application over HTTPS (HTTP/1.1 inside TLS) until `shutdown` resolves (default
/// connection settings). A failed handshake closes that connection only.
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    let warm_up = crate::console::spawn_warm_up(&state);
    let served = run(
        listener,
        Live::new(state, Some(tls)),
        store,
        ConnSettings::default(),
        shutdown,
    )
    .await;
    warm_up.abort();
    served
}

/// Raises this process's soft limit on open files to its hard limit (a node holds one
/// descriptor per connection; the usual soft limit of 1024 is below `max_connections` plus the
/// database's). Returns the limit in force.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let lim = getrlimit(Resource::Nofile);
        match (lim.current, lim.maximum) {
            (Some(cur), max) if max.is_none_or(|m| cur < m) => {
                let want = max.unwrap_or(1 << 20);
                let new = Rlimit {
                    current: Some(want),
                    maximum: lim.maximum,
                };
                match setrlimit(Resource::Nofile, new) {
                    Ok(()) => Some(want),
                    Err(_) => Some(cur),
                }
            }
            (cur, _) => cur,
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// A future that resolves on Ctrl-C or SIGTERM. On Unix the handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives after the caller has said
/// it is serving (and before the server loop polls) still stops it cleanly.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("Shutting down.");
    }
}
