//! A TAXII 2.1 client for sync: `GET …/objects/` with `added_after`, `match[version]=all`,
//! `limit` and `next`/`more` pagination, and `POST …/objects/` with the status read back.
//! Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential
//! back-off; anything else is an error at once.

use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::Value;

use policy::config::PeerConfig;

/// The error and its causes, one after the other (reqwest's own message says little).
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

fn is_tls_failure(message: &str) -> bool {
    [
        "invalid peer certificate",
        "UnknownIssuer",
        "NotValidForName",
        "certificate",
        "handshake",
        // The peer's TLS alert, e.g. `UnknownCA` or `CertificateRequired` when it requires a
        // client certificate (mutual TLS) that this node lacks or another CA issued.
        "received fatal alert",
    ]
    .iter()
    .any(|k| message.contains(k))
}

/// The TAXII 2.1 media type.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";

/// A sync failure against one peer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The peer could not be reached, or kept failing after the retries.
    #[error("{url}: {message}")]
    Transport {
        /// The URL (credentials never appear in it).
        url: String,
        /// What happened.
        message: String,
    },
    /// The peer answered with an error status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body (a TAXII error resource, usually).
        body: String,
    },
    /// The peer answered something that is not the TAXII resource expected.
    #[error("{url}: not a TAXII response: {message}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The peer's configuration cannot be used (a missing secret, a bad CA file).
    #[error("peer `{peer}`: {message}")]
    Config {
        /// The peer.
        peer: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
}

/// One page of `GET …/objects/`.
#[derive(Debug, Clone, Default)]
pub struct ObjectsPage {
    /// The objects.
    pub objects: Vec<Value>,
    /// `more`.
    pub more: bool,
    /// `next`.
    pub next: Option<String>,
    /// `X-TAXII-Date-Added-Last`.
    pub date_added_last: Option<String>,
}

/// What a POST's status resource says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostSummary {
    /// `success_count`.
    pub success: u64,
    /// `failure_count`.
    pub failure: u64,
    /// `pending_count`.
    pub pending: u64,
    /// `failures[].message` with their ids.
    pub failures: Vec<String>,
    /// The same failures as `(id, message)`.
    pub refused: Vec<(String, String)>,
}

/// A client for one peer's API root.
#[derive(Debug, Clone)]
pub struct TaxiiClient {
    http: reqwest::Client,
    root_url: String,
    auth: Auth,
    retries: u32,
    backoff: Duration,
}

impl TaxiiClient {
    /// A client for `peer`; secrets named by `*_env` are read through `env`.
    pub fn new(
        peer: &PeerConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TaxiiClient, ClientError> {
        let cfg_err = |message: String| ClientError::Config {
            peer: peer.name.clone(),
            message,
        };
        let secret = |inline: &Option<String>, var: &Option<String>, what: &str| match (inline, var)
        {
            (Some(v), _) => Ok(Some(v.clone())),
            (None, Some(var)) => env(var)
                .map(Some)
                .ok_or_else(|| cfg_err(format!("{what}: environment variable {var} is not set"))),
            (None, None) => Ok(None),
        };
        let auth = match &peer.username {
            Some(u) => Auth::Basic(
                u.clone(),
                secret(&peer.password, &peer.password_env, "password")?.unwrap_or_default(),
            ),
            None => match secret(&peer.token, &peer.token_env, "token")? {
                Some(t) => Auth::Bearer(t),
                None => Auth::None,
            },
        };
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(peer.timeout_seconds))
            .connect_timeout(Duration::from_secs(peer.timeout_seconds.min(10)))
            .user_agent(concat!("shieldwall-sync/", env!("CARGO_PKG_VERSION")));
        // Every client carries its own rustls configuration (roots from the peer's settings);
        // the process-wide provider is still needed by reqwest's builder for plain HTTP.
        crate::tls::ensure_provider();
        let tls =
            crate::tls::client_config(peer).map_err(|e| cfg_err(format!("TLS settings: {e}")))?;
        let builder = builder.tls_backend_preconfigured(tls);
        let http = builder
            .build()
            .map_err(|e| cfg_err(format!("cannot build the HTTP client: {e}")))?;
        Ok(TaxiiClient {
            http,
            root_url: format!("{}/{}", peer.url.trim_end_matches('/'), peer.api_root),
            auth,
            retries: 4,
            backoff: Duration::from_millis(250),
        })
    }

    /// Changes the retry schedule (tests use short ones).
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> TaxiiClient {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    fn objects_url(&self, collection: &str) -> String {
        format!("{}/collections/{collection}/objects/", self.root_url)
    }

    fn authorise(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Auth::None => rb,
            Auth::Basic(u, p) => rb.basic_auth(u, Some(p)),
            Auth::Bearer(t) => rb.bearer_auth(t),
        }
    }

    /// Sends with retries; returns the final response (2xx) or an error.
    async fn send(
        &self,
        url: &str,
        make: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
    ) -> Result<reqwest::Response, ClientError> {
        let mut attempt = 0;
        loop {
            let result = self.authorise(make()).send().await;
            let transient = match result {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp)
                    if resp.status() == StatusCode::TOO_MANY_REQUESTS
                        || resp.status().is_server_error() =>
                {
                    format!("HTTP {}", resp.status().as_u16())
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body = resp.text().await.unwrap_or_default();
                    return Err(ClientError::Status {
                        url: url.to_owned(),
                        status,
                        body: body.chars().take(400).collect(),
                    });
                }
                Err(e) => {
                    let message = error_chain(&e.without_url());
                    if is_tls_failure(&message) {
                        // A certificate the roots do not vouch for will not get better by retrying.
                        return Err(ClientError::Transport {
                            url: url.to_owned(),
                            message: format!("TLS handshake failed: {message}"),
                        });
                    }
                    message
                }
            };
            if attempt >= self.retries {
                return Err(ClientError::Transport {
                    url: url.to_owned(),
                    message: format!("{transient} (after {} attempts)", attempt + 1),
                });
            }
            let delay = self.backoff.saturating_mul(1 << attempt.min(10));
            tracing::warn!(%url, error = %transient, retry_in_ms = delay.as_millis() as u64, "Sync request failed; retrying.");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One page of objects (every version) added after `added_after`, or continuing at `next`.
    pub async fn get_objects(
        &self,
        collection: &str,
        added_after: Option<&str>,
        next: Option<&str>,
        limit: u32,
    ) -> Result<ObjectsPage, ClientError> {
        let url = self.objects_url(collection);
        let mut query: Vec<(&str, String)> = vec![
            ("match[version]", "all".into()),
            ("limit", limit.to_string()),
        ];
        if let Some(a) = added_after {
            query.push(("added_after", a.to_owned()));
        }
        if let Some(n) = next {
            query.push(("next", n.to_owned()));
        }
        let full = format!(
            "{url}?{}",
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .finish()
        );
        let make = || self.http.get(&full).header(header::ACCEPT, TAXII_MEDIA);
        let resp = self.send(&url, &make).await?;
        let date_added_last = resp
            .headers()
            .get("X-TAXII-Date-Added-Last")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        let protocol = |message: String| ClientError::Protocol {
            url: url.clone(),
            message,
        };
        // A peer's page is untrusted: strict JSON (a duplicate key is refused, not collapsed).
        let body =
            stix::json::parse(&bytes).map_err(|e| protocol(format!("malformed JSON: {e}")))?;
        let Value::Object(mut map) = body else {
            return Err(protocol("the body is not an envelope".into()));
        };
        let objects = match map.remove("objects") {
            Some(Value::Array(a)) => a,
            None => Vec::new(),
            Some(_) => return Err(protocol("`objects` is not a list".into())),
        };
        let more = match map.get("more") {
            Some(Value::Bool(b)) => *b,
            None => false,
            Some(_) => return Err(protocol("`more` is not a boolean".into())),
        };
        let next = match map.get("next") {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => None,
            Some(_) => return Err(protocol("`next` is not a string".into())),
        };
        Ok(ObjectsPage {
            objects,
            more,
            next,
            date_added_last,
        })
    }

    /// Posts objects (each already serialised) as one envelope and reads the status back.
    pub async fn post_objects(
        &self,
        collection: &str,
        objects: &[&str],
    ) -> Result<PostSummary, ClientError> {
        let url = self.objects_url(collection);
        let mut body =
            String::with_capacity(objects.iter().map(|o| o.len() + 1).sum::<usize>() + 16);
        body.push_str("{\"objects\":[");
        for (i, o) in objects.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(o);
        }
        body.push_str("]}");
        let make = || {
            self.http
                .post(&url)
                .header(header::ACCEPT, TAXII_MEDIA)
                .header(header::CONTENT_TYPE, TAXII_MEDIA)
                .body(body.clone())
        };
        let resp = self.send(&url, &make).await?;
        let bytes = resp.bytes().await.map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        let status = stix::json::parse(&bytes).map_err(|e| ClientError::Protocol {
            url: url.clone(),
            message: format!("the status resource is not JSON: {e}"),
        })?;
        let count = |k: &str| status.get(k).and_then(Value::as_u64).unwrap_or(0);
        let failures = status
            .get("failures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.get("id").and_then(Value::as_str).unwrap_or("?"),
                            f.get("message").and_then(Value::as_str).unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let refused = status
            .get("failures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        Some((
                            f.get("id").and_then(Value::as_str)?.to_owned(),
                            f.get("message")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PostSummary {
            refused,
            success: count("success_count"),
            failure: count("failure_count"),
            pending: count("pending_count"),
            failures,
        })
    }
}
