//! The one error type of the TAXII API. Every failure — handler errors, router fallback, 405,
//! body limits, timeouts, panics — leaves the server as a TAXII error message resource
//! (`application/taxii+json;version=2.1`, `http_status` as a string).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::media::TAXII_MEDIA_TYPE;

/// A TAXII error: status, title and a description safe to show the caller.
#[derive(Debug, Clone)]
pub struct TaxiiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short title.
    pub title: &'static str,
    /// What went wrong, for the caller.
    pub description: String,
    /// Seconds to wait before retrying (`Retry-After`), for 429.
    pub retry_after: Option<u64>,
}

impl TaxiiError {
    /// An error with this status, title and description.
    pub fn new(
        status: StatusCode,
        title: &'static str,
        description: impl Into<String>,
    ) -> TaxiiError {
        TaxiiError {
            status,
            title,
            description: description.into(),
            retry_after: None,
        }
    }
    /// 400.
    pub fn bad_request(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::BAD_REQUEST, "Bad Request", description)
    }
    /// 401, always with the same body.
    pub fn unauthorized() -> TaxiiError {
        TaxiiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "valid credentials are required (HTTP Basic or a bearer API key)",
        )
    }
    /// 403.
    pub fn forbidden(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::FORBIDDEN, "Forbidden", description)
    }
    /// 404.
    pub fn not_found(what: &str) -> TaxiiError {
        TaxiiError::new(
            StatusCode::NOT_FOUND,
            "Not Found",
            format!("no such {what}"),
        )
    }
    /// 406.
    pub fn not_acceptable() -> TaxiiError {
        TaxiiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            "the Accept header must allow application/taxii+json;version=2.1",
        )
    }
    /// 413.
    pub fn too_large(max: usize) -> TaxiiError {
        TaxiiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            format!("the body exceeds max_content_length ({max} bytes)"),
        )
    }
    /// 415.
    pub fn unsupported_media_type() -> TaxiiError {
        TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            "the Content-Type must be application/taxii+json;version=2.1",
        )
    }
    /// 422.
    pub fn unprocessable(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            description,
        )
    }
    /// 429 with `Retry-After`: too many failed logins from this address or for this user.
    pub fn too_many_requests(retry_after: u64) -> TaxiiError {
        let mut e = TaxiiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            format!("too many failed logins; retry after {retry_after} s"),
        );
        e.retry_after = Some(retry_after);
        e
    }
    /// 500, logged with its cause; the caller learns nothing about internals.
    pub fn internal(cause: &dyn std::fmt::Display) -> TaxiiError {
        tracing::error!(error = %cause, "Request failed inside the server.");
        TaxiiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the server could not complete the request",
        )
    }
}

impl From<crate::audit::AuditError> for TaxiiError {
    /// A read that cannot be recorded is not answered: 503 when the audit journal is full (the
    /// database has not taken its records for a long time), 500 otherwise.
    fn from(e: crate::audit::AuditError) -> TaxiiError {
        match e {
            crate::audit::AuditError::Unavailable(_) => {
                tracing::error!(error = %e, "A read was refused: it could not be recorded.");
                TaxiiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                    "the read could not be recorded in the audit trail (its journal is full), so it is not answered; try again later",
                )
            }
            crate::audit::AuditError::Failed(_) => TaxiiError::internal(&e),
        }
    }
}

impl From<crate::store::StoreError> for TaxiiError {
    /// A write into a collection removed while the request was under way is answered like a
    /// write into a missing collection (404); any other store failure is a 500.
    fn from(e: crate::store::StoreError) -> TaxiiError {
        match e {
            crate::store::StoreError::CollectionRemoved(_) => TaxiiError::not_found("collection"),
            e => TaxiiError::internal(&e),
        }
    }
}

/// The error resource body for a status.
pub fn error_body(status: StatusCode, title: &str, description: &str) -> String {
    json!({
        "title": title,
        "description": description,
        "http_status": status.as_u16().to_string(),
    })
    .to_string()
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            error_body(self.status, self.title, &self.description),
        )
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        );
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"shieldwall\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}

/// Response mapper: any error response that is not already a TAXII resource (axum's 405, the
/// body-limit 413, the timeout 503, a caught panic's 500, an extractor rejection) becomes one.
pub async fn normalize(resp: Response) -> Response {
    let status = resp.status();
    let is_taxii = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/taxii+json"));
    // The console's pages are HTML, errors included.
    let is_html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_taxii || is_html {
        return resp;
    }
    let (title, description): (&'static str, &str) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method Not Allowed",
            "this method is not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("Payload Too Large", "the body exceeds max_content_length")
        }
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => {
            ("Service Unavailable", "the request took too long")
        }
        StatusCode::NOT_FOUND => ("Not Found", "no such resource"),
        s if s.is_server_error() => (
            "Internal Server Error",
            "the server could not complete the request",
        ),
        _ => ("Bad Request", "the request is malformed"),
    };
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut out = TaxiiError::new(status, title, description).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}
