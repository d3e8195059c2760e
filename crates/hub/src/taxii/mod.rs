//! The TAXII 2.1 server: routes, shared state and the tower layers, in this order (outermost
//! first): trace → catch panic → TAXII error normaliser → timeout → concurrency limit → body
//! limit → routes. Handlers (in `handlers.rs`) are thin: authenticate, resolve the collection,
//! parse filters, call the store with the caller's policy, render. A POST's parsing and
//! validation run off the async workers (`validation.rs`).

pub mod admin_api;
pub mod cursor;
pub mod error;
pub mod filters;
mod handlers;
pub mod media;
pub mod validation;

use std::{sync::Arc, time::Duration};

use axum::{Router, http::StatusCode, middleware, routing::get};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer,
    sensitive_headers::SetSensitiveRequestHeadersLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

use crate::{auth::Authenticator, coalition::Coalition, store::AnyStore};

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `max_content_length`.
    pub max_content_length: usize,
    /// Largest page.
    pub max_page_size: u32,
    /// Page size without `limit`.
    pub default_page_size: u32,
    /// Status retention, microseconds.
    pub status_retention_us: i64,
    /// Request timeout.
    pub request_timeout: Duration,
}

/// Everything a handler may touch.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The coalition.
    pub coalition: Arc<Coalition>,
    /// The store.
    pub store: AnyStore,
    /// Authentication.
    pub auth: Authenticator,
    /// The audit trail's writer (sign-ins, reads of RED and AMBER+STRICT objects, deletions).
    pub audit: crate::audit::Auditor,
    /// Cursor codec.
    pub cursors: cursor::CursorKey,
    /// Limits.
    pub limits: Limits,
    /// Discovery: title, description, contact.
    pub discovery: Discovery,
    /// Base URL of this node (`http://127.0.0.1:8443`), for discovery's API root URLs.
    pub base_url: String,
    /// Rendered Prometheus metrics, if enabled.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Path of the metrics.
    pub metrics_path: String,
    /// Per-peer sync status when `serve` runs the scheduled sync (`GET /admin/sync`).
    pub sync_status: Option<crate::sync::StatusBoard>,
    /// The administration (admin API under `/admin/`): the node's bootstrap configuration and
    /// its store.
    pub admin: Option<crate::services::admin::Admin>,
    /// The web console's sessions (kept across reloads).
    pub console: crate::console::Console,
    /// The configured peers (the console's federation status and explain view).
    pub peers: Vec<crate::config::PeerConfig>,
}

/// Discovery fields.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Contact.
    pub contact: Option<String>,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let limits = state.limits.clone();
    let metrics_path = state.metrics_path.clone();
    let routes = admin_api::routes(Router::new())
        .route("/taxii2/", get(handlers::discovery))
        .route("/healthz", get(handlers::healthz))
        .route("/admin/sync", get(handlers::sync_status))
        // Not a TAXII API root: `lookup` is a reserved name (`policy::config`).
        .route("/lookup/", get(handlers::lookup))
        .route(&metrics_path, get(handlers::metrics))
        .route("/{root}/", get(handlers::api_root))
        .route("/{root}/status/{status}/", get(handlers::status))
        .route("/{root}/collections/", get(handlers::collections))
        .route(
            "/{root}/collections/{coll}/",
            get(handlers::collection_info),
        )
        .route(
            "/{root}/collections/{coll}/manifest/",
            get(handlers::manifest),
        )
        .route(
            "/{root}/collections/{coll}/objects/",
            get(handlers::get_objects).post(handlers::add_objects),
        )
        .route(
            "/{root}/collections/{coll}/objects/{object}/",
            get(handlers::get_object).delete(handlers::delete_object),
        )
        .route(
            "/{root}/collections/{coll}/objects/{object}/versions/",
            get(handlers::versions),
        )
        .merge(crate::console::routes())
        .fallback(handlers::fallback)
        .with_state(state);
    routes.layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                axum::http::header::AUTHORIZATION,
            ]))
            .layer(TraceLayer::new_for_http())
            .layer(CatchPanicLayer::new())
            .layer(middleware::map_response(error::normalize))
            .layer(middleware::from_fn(handlers::count_requests))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                limits.request_timeout,
            ))
            .layer(tower::limit::ConcurrencyLimitLayer::new(512))
            .layer(RequestBodyLimitLayer::new(limits.max_content_length)),
    )
}
