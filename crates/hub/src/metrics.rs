//! Prometheus metrics (`/metrics`): what the process counts (requests, logins, ingest, sync
//! runs, connections), each with `# HELP` and `# TYPE`, and gauges read from the store at scrape
//! time: the object versions placed in each collection, the versions held back from each peer
//! (`sync_held`) and the objects refused from it (`sync_refused`), per reason.
//!
//! Collection names and counts are the node's business: the main listener serves the metrics to
//! admins only (anyone else gets the 404 of an absent path); `server.metrics_listen` serves them
//! without authentication on a separate listener meant for a private address.

use std::fmt::Write as _;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::store::{AnyStore, Store, StoreError};

/// The media type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The kinds of failed authentication counted in `shieldwall_failed_logins_total`.
pub const LOGIN_FAILURE_KINDS: [&str; 5] = ["password", "key", "malformed", "throttled", "busy"];

/// Describes every metric the process records and registers the unlabelled counters (and each
/// kind of failed login) at zero, so that a scrape shows them before the first event.
pub fn describe() {
    describe_counter!(
        "shieldwall_http_requests_total",
        "HTTP requests answered, by matched route, method and status."
    );
    describe_histogram!(
        "shieldwall_http_request_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by matched route."
    );
    describe_counter!(
        "shieldwall_objects_added_total",
        "Object versions stored by TAXII POSTs (new versions and new placements)."
    );
    describe_counter!(
        "shieldwall_objects_refused_total",
        "Object versions refused in TAXII POSTs (invalid, or refused by the publishing rules)."
    );
    describe_counter!(
        "shieldwall_failed_logins_total",
        "Failed authentications by kind: password (wrong password or unknown user), key, \
         malformed, throttled (refused before any check), busy (no password-check slot)."
    );
    describe_counter!(
        "shieldwall_audit_failures_suppressed_total",
        "Failed sign-ins beyond the audit trail's budget, counted in one record instead of one each."
    );
    describe_counter!(
        "shieldwall_connections_evicted_total",
        "Idle connections closed to admit a new one at server.max_connections."
    );
    describe_counter!(
        "shieldwall_connections_refused_total",
        "Connections refused at server.max_connections (none idle to evict)."
    );
    describe_gauge!("shieldwall_connections_open", "Open client connections.");
    describe_counter!(
        "shieldwall_console_warm_ups_total",
        "Warm-ups of the console's kept views finished (one at the start, one after each reload)."
    );
    describe_gauge!(
        "shieldwall_console_views_warm",
        "Member views the latest warm-up of the console's views read."
    );
    describe_counter!(
        "shieldwall_sync_pulled_total",
        "Object versions pulled from a peer and stored, by peer."
    );
    describe_counter!(
        "shieldwall_sync_pushed_total",
        "Object versions pushed to a peer, by peer."
    );
    describe_counter!(
        "shieldwall_sync_held_back_total",
        "Versions push held back from a peer, by peer and reason (counted at every run)."
    );
    describe_counter!(
        "shieldwall_sync_refused_total",
        "Objects refused from a peer, by peer and reason."
    );
    describe_counter!("shieldwall_sync_errors_total", "Failed sync runs, by peer.");
    describe_gauge!(
        "shieldwall_sync_last_success_seconds",
        Unit::Seconds,
        "Unix time of the last successful sync run, by peer."
    );
    metrics::counter!("shieldwall_objects_added_total").increment(0);
    metrics::counter!("shieldwall_objects_refused_total").increment(0);
    for kind in LOGIN_FAILURE_KINDS {
        metrics::counter!("shieldwall_failed_logins_total", "kind" => kind).increment(0);
    }
}

/// The Prometheus text of the process's metrics followed by the gauges read from `store`.
pub async fn render(handle: &PrometheusHandle, store: &AnyStore) -> Result<String, StoreError> {
    let mut out = handle.render();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let collections = store.collection_counts().await?;
    gauge_family(
        &mut out,
        "shieldwall_collection_object_versions",
        "Object versions placed in a collection (every version of an object counts).",
        collections
            .iter()
            .map(|(c, n)| (vec![("collection", c.as_str())], *n)),
    );
    let held = store.sync_held_counts().await?;
    gauge_family(
        &mut out,
        "shieldwall_sync_held_versions",
        "Versions held back from a peer now (sync_held), by peer and reason.",
        held.iter()
            .map(|(p, r, n)| (vec![("peer", p.as_str()), ("reason", r.as_str())], *n)),
    );
    let refused = store.refused_counts().await?;
    gauge_family(
        &mut out,
        "shieldwall_sync_refused_objects",
        "Objects refused from a peer as recorded (sync_refused), by peer and reason.",
        refused
            .iter()
            .map(|(p, r, n)| (vec![("peer", p.as_str()), ("reason", r.as_str())], *n)),
    );
    Ok(out)
}

/// Serves the metrics at `path` on `listener`, without authentication (`server.metrics_listen`),
/// until `shutdown` completes; every other path is a 404.
pub async fn serve_separately(
    listener: tokio::net::TcpListener,
    path: String,
    store: AnyStore,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::{http::StatusCode, response::IntoResponse, routing::get};
    let Some(handle) = crate::server::metrics_handle() else {
        return Err(std::io::Error::other(
            "no metrics recorder could be installed",
        ));
    };
    let app = axum::Router::new().route(
        &path,
        get(move || {
            let (handle, store) = (handle.clone(), store.clone());
            async move {
                match render(&handle, &store).await {
                    Ok(body) => {
                        ([(axum::http::header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Cannot read the metrics from the store.");
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    }
                }
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Appends one gauge family (always with its `# HELP` and `# TYPE`, even without samples).
fn gauge_family<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    samples: impl Iterator<Item = (Vec<(&'a str, &'a str)>, i64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (labels, value) in samples {
        let labels: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
            .collect();
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

/// A label value in the exposition format: backslash, double quote and newline escaped.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_family_without_samples_keeps_help_and_type() {
        let mut out = String::new();
        gauge_family(&mut out, "x", "An x.", std::iter::empty());
        assert_eq!(out, "# HELP x An x.\n# TYPE x gauge\n");
        gauge_family(
            &mut out,
            "y",
            "A y.",
            [(vec![("peer", "p\"1")], 3)].into_iter(),
        );
        assert!(
            out.ends_with("# TYPE y gauge\ny{peer=\"p\\\"1\"} 3\n"),
            "{out}"
        );
    }
}
