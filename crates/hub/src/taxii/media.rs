//! TAXII media types: `Accept` negotiation (406), `Content-Type` checks (415) and the JSON
//! responses that carry the TAXII media type.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::error::TaxiiError;

/// The TAXII 2.1 media type, used for every response body.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// Whether one media range names TAXII 2.1: `application/taxii+json` with no version or
/// `version=2.1` (parameters and spaces tolerated, case-insensitive type).
fn is_taxii21(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let Some(ty) = parts.next() else { return false };
    if !ty.eq_ignore_ascii_case("application/taxii+json") {
        return false;
    }
    let mut version_ok = true;
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            let (k, v) = (k.trim(), v.trim().trim_matches('"'));
            if k.eq_ignore_ascii_case("version") {
                version_ok = v == "2.1";
            } else if k.eq_ignore_ascii_case("q") && v.parse::<f32>().is_ok_and(|q| q <= 0.0) {
                version_ok = false;
            }
        }
    }
    version_ok
}

/// 406 unless `Accept` allows TAXII 2.1.
pub fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let ok = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(is_taxii21);
    if ok {
        Ok(())
    } else {
        Err(TaxiiError::not_acceptable())
    }
}

/// 415 unless `Content-Type` is TAXII 2.1.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), TaxiiError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    match (values.next(), values.next()) {
        (Some(v), None) if v.to_str().is_ok_and(is_taxii21) => Ok(()),
        _ => Err(TaxiiError::unsupported_media_type()),
    }
}

/// A TAXII JSON response (already serialised), with optional `X-TAXII-Date-Added-*` headers.
#[derive(Debug)]
pub struct Taxii {
    /// Status (200 or 202).
    pub status: StatusCode,
    /// The body.
    pub body: String,
    /// `(first, last)` date_added of the page.
    pub date_added: Option<(String, String)>,
}

impl Taxii {
    /// 200 with a body.
    pub fn ok(body: String) -> Taxii {
        Taxii {
            status: StatusCode::OK,
            body,
            date_added: None,
        }
    }
}

impl IntoResponse for Taxii {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        );
        if let Some((first, last)) = self.date_added
            && let (Ok(f), Ok(l)) = (HeaderValue::from_str(&first), HeaderValue::from_str(&last))
        {
            h.insert("x-taxii-date-added-first", f);
            h.insert("x-taxii-date-added-last", l);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        for ok in [
            "application/taxii+json;version=2.1",
            "application/taxii+json",
            "text/html, application/taxii+json ; version=2.1",
            "APPLICATION/TAXII+JSON;version=\"2.1\"",
        ] {
            assert!(is_taxii21(ok.split(',').next_back().unwrap_or("")), "{ok}");
        }
        for bad in [
            "application/taxii+json;version=2.0",
            "application/json",
            "*/*",
            "application/taxii+json;q=0",
        ] {
            assert!(!is_taxii21(bad), "{bad}");
        }
    }
}
