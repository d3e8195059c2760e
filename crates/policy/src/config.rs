//! The node's configuration: one TOML file, overridden key by key by `SHIELDWALL_*` environment
//! variables (`SHIELDWALL_SERVER__LISTEN=…` sets `server.listen`; `__` separates levels), checked
//! as a whole before anything starts. A refused configuration names the file, the key and the
//! reason.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use stix::tlp::TlpLevel;

/// The prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "SHIELDWALL_";

/// A configuration that was refused: the source (file or environment variable), the key and why.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {reason}")]
pub struct ConfigError {
    /// The file path or environment variable.
    pub source_name: String,
    /// The dotted key, e.g. `collections[2].trust_group`.
    pub key: String,
    /// Why it is refused.
    pub reason: String,
}

impl ConfigError {
    fn new(source: &str, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            source_name: source.to_owned(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[server]`: listening, storage, limits.
    pub server: ServerConfig,
    /// `[[api_roots]]`.
    pub api_roots: Vec<ApiRootConfig>,
    /// `[[members]]`: the organisations of the coalition.
    pub members: Vec<MemberConfig>,
    /// `[[users]]`: people with a password, each in one member.
    pub users: Vec<UserConfig>,
    /// `[[api_keys]]`: bearer keys, each in one member.
    pub api_keys: Vec<ApiKeyConfig>,
    /// `[[trust_groups]]`: named sets of members.
    pub trust_groups: Vec<TrustGroupConfig>,
    /// `[[collections]]`.
    pub collections: Vec<CollectionConfig>,
    /// `[sync]`: this node's part in the federation.
    pub sync: SyncConfig,
    /// `[[peers]]`: other TAXII 2.1 nodes this node pulls from or pushes to.
    pub peers: Vec<PeerConfig>,
}

/// `[sync]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// The member that operates this node (AMBER+STRICT may leave only to nodes of this member).
    pub member: Option<String>,
    /// Whether `serve` runs the scheduled sync.
    pub enabled: bool,
}

/// `[[peers]]`: another node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Short name (provenance `peer:NAME`, cursors, status).
    pub name: String,
    /// Base URL, e.g. `https://cert.example:8443` (plain `http://` only on loopback).
    pub url: String,
    /// API root path segment on the peer.
    pub api_root: String,
    /// The member that operates the peer node.
    pub member: String,
    /// User name for HTTP Basic (with `password` or `password_env`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password for Basic (prefer `password_env`).
    #[serde(default)]
    pub password: Option<String>,
    /// Environment variable holding the Basic password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Environment variable holding a bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// Bearer token (prefer `token_env`).
    #[serde(default)]
    pub token: Option<String>,
    /// CA certificates (PEM) to trust for this peer, besides the built-in web roots (unless
    /// `tls_only_ca_cert`).
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Trust only `ca_cert` for this peer (not the built-in web roots).
    #[serde(default)]
    pub tls_only_ca_cert: bool,
    /// Client certificate chain (PEM) presented to the peer (mutual TLS), with `client_key`.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// The node account of this peer here: the user name or API key id (a user or key of the
    /// peer's `member`) the peer uses when it pushes to or pulls from this node. Objects it posts
    /// are stored as received by sync (provenance `peer:NAME`, producer by `created_by_ref`);
    /// everything served to it (objects, manifest, versions, by id) passes the egress rule
    /// (`policy::may_leave`) on top of its member's read rights.
    #[serde(default)]
    pub inbound_actor: Option<String>,
    /// Request timeout, seconds.
    #[serde(default = "default_peer_timeout")]
    pub timeout_seconds: u64,
    /// Objects per page / per push.
    #[serde(default = "default_peer_page")]
    pub page_size: u32,
    /// Collection mappings.
    #[serde(default)]
    pub collections: Vec<PeerCollectionConfig>,
}

fn default_peer_timeout() -> u64 {
    30
}
fn default_peer_page() -> u32 {
    500
}

/// Direction of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Remote → local.
    Pull,
    /// Local → remote.
    Push,
    /// Both.
    Both,
}

impl Direction {
    /// Whether it pulls.
    pub fn pulls(self) -> bool {
        matches!(self, Direction::Pull | Direction::Both)
    }
    /// Whether it pushes.
    pub fn pushes(self) -> bool {
        matches!(self, Direction::Push | Direction::Both)
    }
}

/// `[[peers.collections]]`: one local collection mapped to one remote collection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerCollectionConfig {
    /// Local collection id.
    pub local: String,
    /// Remote collection id.
    pub remote: String,
    /// Direction.
    pub direction: Direction,
    /// Seconds between runs inside `serve`.
    #[serde(default = "default_interval")]
    pub interval_seconds: u64,
}

fn default_interval() -> u64 {
    300
}

/// `[server]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on. Plain HTTP only on loopback; elsewhere `tls_cert`/`tls_key` are required.
    pub listen: String,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificate(s) for mutual TLS: clients must present a certificate issued by one.
    pub tls_client_ca: Option<PathBuf>,
    /// Directory for the SQLite database (when `database` is not set).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; default: `shieldwall.db` in `data_dir`.
    pub database: Option<String>,
    /// Title of the discovery resource.
    pub title: String,
    /// Description of the discovery resource.
    pub description: Option<String>,
    /// Contact of the discovery resource.
    pub contact: Option<String>,
    /// The TLP given to objects without a TLP marking.
    pub default_tlp: String,
    /// Largest accepted request body, in bytes (the API roots' `max_content_length`).
    pub max_content_length: usize,
    /// Largest page served, whatever `limit` asks.
    pub max_page_size: u32,
    /// Page size when no `limit` is given.
    pub default_page_size: u32,
    /// Hours a status resource is kept (at least 24).
    pub status_retention_hours: u32,
    /// Hex key (≥ 32 bytes) for the HMAC that protects `next` cursors; when absent, a key kept in
    /// the database is used, so that every node sharing the database accepts the same cursors.
    pub cursor_key: Option<String>,
    /// Path of the Prometheus metrics (served on the same listener to admins only, outside every
    /// API root).
    pub metrics_path: String,
    /// A separate plain-HTTP listener for the metrics (`127.0.0.1:9464`), without authentication;
    /// when set, the main listener no longer serves them.
    pub metrics_listen: Option<String>,
    /// Seconds a verified password is remembered, so that a request does not cost an argon2 hash.
    pub credential_cache_seconds: u64,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_seconds: u64,
    /// Seconds a client has to send a request's header, counted from when the connection is
    /// ready for it (so also the longest a keep-alive connection waits for its next request);
    /// also the longest a TLS handshake may take.
    pub header_read_timeout_seconds: u64,
    /// Seconds a connection may go without reading or writing a byte (a client that stops
    /// reading its response, a stalled upload) before it is closed.
    pub idle_timeout_seconds: u64,
    /// Most connections open at once; at the cap, a new connection closes the oldest one that
    /// has no request in progress (or, when every one is busy, is itself closed).
    pub max_connections: usize,
    /// Password verifications (argon2) run at once; 0: one per CPU core.
    pub auth_concurrency: usize,
    /// The directory of this node's audit journal (the records of RED and AMBER+STRICT reads,
    /// appended before the answer and drained into the audit chain; `docs/AUDIT.md`); default:
    /// `audit-journal` in `data_dir`. Each node needs its own (nodes sharing one directory each
    /// write their own files in it).
    pub audit_journal_dir: Option<PathBuf>,
    /// Most megabytes of journaled records not yet in the audit chain (when the database cannot
    /// be written to for that long); beyond it, reads that need a record are refused.
    pub audit_journal_max_mb: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8443".to_owned(),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            data_dir: PathBuf::from("shieldwall-data"),
            audit_journal_dir: None,
            audit_journal_max_mb: 64,
            database: None,
            title: "Shieldwall TAXII 2.1 hub".to_owned(),
            description: None,
            contact: None,
            default_tlp: "amber".to_owned(),
            max_content_length: 10 * 1024 * 1024,
            max_page_size: 1000,
            default_page_size: 100,
            status_retention_hours: 48,
            cursor_key: None,
            metrics_path: "/metrics".to_owned(),
            metrics_listen: None,
            credential_cache_seconds: 300,
            request_timeout_seconds: 60,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            auth_concurrency: 0,
        }
    }
}

/// `[[api_roots]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRootConfig {
    /// The path segment, e.g. `coalition` for `/coalition/`.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Whether discovery names it as the default root.
    #[serde(default)]
    pub default: bool,
}

/// `[[members]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// Short name used everywhere else in this file.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The member's STIX identity id (`identity--…`).
    pub identity: String,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Sectors (STIX industry-sector vocabulary).
    #[serde(default)]
    pub sectors: Vec<String>,
}

/// A user's or key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads what its member may read.
    Reader,
    /// Also writes where its member may write.
    Contributor,
    /// Administers the node: reads and writes every collection (TLP:RED still follows the policy).
    Admin,
}

impl Role {
    /// `reader`, `contributor` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Contributor => "contributor",
            Role::Admin => "admin",
        }
    }
}

/// `[[users]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub name: String,
    /// The member the user belongs to.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Argon2 PHC string (`shieldwall admin add-user` writes it).
    pub password_hash: String,
}

/// `[[api_keys]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The public key id (the part of the token before the secret).
    pub id: String,
    /// The member the key acts for.
    pub member: String,
    /// Role.
    pub role: Role,
    /// Hex SHA-256 digest of the whole token.
    pub digest: String,
    /// What the key is for.
    #[serde(default)]
    pub note: Option<String>,
    /// When the key stops working (RFC 3339, UTC); none: it works until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// `[[trust_groups]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustGroupConfig {
    /// Short name.
    pub id: String,
    /// Member ids.
    pub members: Vec<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `[[collections]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// The TAXII collection id (a UUID).
    pub id: String,
    /// The API root it is served under.
    pub api_root: String,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Alias.
    #[serde(default)]
    pub alias: Option<String>,
    /// The trust group whose members' nodes may receive its TLP:AMBER objects by sync.
    #[serde(default)]
    pub trust_group: Option<String>,
    /// Who may read: member ids, trust group ids, or `*` for every member.
    #[serde(default)]
    pub read: Vec<String>,
    /// Who may write: member ids, trust group ids, or `*` for every member.
    #[serde(default)]
    pub write: Vec<String>,
    /// Members (or trust groups) that see TLP:RED objects of this collection besides their producer.
    #[serde(default)]
    pub red_recipients: Vec<String>,
}

/// A fully checked configuration, with the values parsed.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The configuration as written.
    pub config: Config,
    /// The listen address.
    pub listen: SocketAddr,
    /// The node's default TLP for unmarked objects.
    pub default_tlp: TlpLevel,
    /// Database URL.
    pub database: String,
}

impl Checked {
    /// The directory of this node's audit journal: `server.audit_journal_dir`, or
    /// `audit-journal` in the data directory.
    pub fn audit_journal_dir(&self) -> PathBuf {
        let s = &self.config.server;
        s.audit_journal_dir
            .clone()
            .unwrap_or_else(|| s.data_dir.join("audit-journal"))
    }
}

impl Config {
    /// Parses the text of the TOML file `name`, applies the `SHIELDWALL_*` variables of `env`,
    /// resolves relative paths against `folder` (the file's folder), and checks the result.
    /// Reading the file and the environment is the application's (`shieldwall::config::load`).
    pub fn from_file_text(
        text: &str,
        name: &str,
        folder: &Path,
        env: &[(String, String)],
    ) -> Result<Checked, ConfigError> {
        let mut config = Config::parse(text, name, env)?;
        config.resolve_paths(folder);
        config.check(name)
    }

    /// Makes every relative path of the configuration (data directory, SQLite database, TLS
    /// files, peers' certificates) relative to `folder` — the configuration file's folder, not
    /// the working directory of whoever runs the command.
    pub fn resolve_paths(&mut self, folder: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = folder.join(&*p);
            }
        };
        let s = &mut self.server;
        fix(&mut s.data_dir);
        for p in [
            &mut s.tls_cert,
            &mut s.tls_key,
            &mut s.tls_client_ca,
            &mut s.audit_journal_dir,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        if let Some(url) = &mut s.database
            && let Some(rest) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
        {
            let (file, query) = match rest.split_once('?') {
                Some((f, q)) => (f, Some(q)),
                None => (rest, None),
            };
            if !file.is_empty() && !file.starts_with(':') && Path::new(file).is_relative() {
                let mut fixed = format!("sqlite://{}", folder.join(file).display());
                if let Some(q) = query {
                    fixed.push('?');
                    fixed.push_str(q);
                }
                *url = fixed;
            }
        }
        for peer in &mut self.peers {
            for p in [
                &mut peer.ca_cert,
                &mut peer.client_cert,
                &mut peer.client_key,
            ]
            .into_iter()
            .flatten()
            {
                fix(p);
            }
        }
    }

    /// Parses TOML text (named `source_name` in errors), applies environment overrides, checks.
    /// Relative paths stay as written (relative to the working directory).
    pub fn from_toml(
        text: &str,
        source_name: &str,
        env: &[(String, String)],
    ) -> Result<Checked, ConfigError> {
        Config::parse(text, source_name, env)?.check(source_name)
    }

    /// Parses TOML text and applies environment overrides, without checking.
    fn parse(
        text: &str,
        source_name: &str,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let key = e
                .span()
                .map(|s| {
                    let (line, col) = line_col(text, s.start);
                    format!("line {line}, column {col}")
                })
                .unwrap_or_else(|| "(syntax)".to_owned());
            ConfigError::new(source_name, key, e.message().to_owned())
        })?;
        let mut env_source = None;
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.len() < 2 {
                continue; // e.g. SHIELDWALL_PYTHON: not a configuration key
            }
            apply_override(&mut table, &path, value)
                .map_err(|reason| ConfigError::new(var, path.join("."), reason))?;
            env_source = Some(var.clone());
        }
        let de = toml::Value::Table(table);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let source = match &env_source {
                Some(var) => format!("{source_name} (with {var} and other SHIELDWALL_* overrides)"),
                None => source_name.to_owned(),
            };
            ConfigError::new(&source, key, e.into_inner().to_string())
        })?;
        Ok(config)
    }

    /// The `SHIELDWALL_*` variables of `env` that set nothing but look as if they were meant to:
    /// one level where the configuration takes two (`SHIELDWALL_LISTEN`, `SHIELDWALL_SERVER`),
    /// or levels joined by one `_` instead of `__` (`SHIELDWALL_SERVER_LISTEN`). Each comes with
    /// what was probably meant, for a warning. Variables that name nothing in the configuration
    /// (`SHIELDWALL_LOG`, …) are not listed.
    pub fn misnamed_env(env: &[(String, String)]) -> Vec<String> {
        let Ok(serde_json::Value::Object(top)) = serde_json::to_value(Config::default()) else {
            return Vec::new();
        };
        let keys_of = |section: &str| -> Vec<String> {
            match top.get(section) {
                Some(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
                _ => Vec::new(),
            }
        };
        let var_of = |path: &[&str]| {
            format!(
                "{ENV_PREFIX}{}",
                path.iter()
                    .map(|p| p.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join("__")
            )
        };
        let mut out = Vec::new();
        for (var, _) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest.contains("__") {
                continue;
            }
            let name = rest.to_ascii_lowercase();
            let mut meant: Option<String> = None;
            if top.contains_key(&name) {
                if let Some(first) = keys_of(&name).first() {
                    meant = Some(var_of(&[&name, first]));
                }
            } else {
                for section in ["server", "sync"] {
                    if keys_of(section).contains(&name) {
                        meant = Some(var_of(&[section, &name]));
                        break;
                    }
                    if let Some(key) = name.strip_prefix(&format!("{section}_"))
                        && keys_of(section).iter().any(|k| k == key)
                    {
                        meant = Some(var_of(&[section, key]));
                        break;
                    }
                }
            }
            if let Some(meant) = meant {
                out.push(format!(
                    "{var} sets nothing: configuration variables separate levels with `__` \
                     (did you mean {meant}?)"
                ));
            }
        }
        out
    }

    /// Checks every cross-reference and value; the error names the key.
    pub fn check(self, source: &str) -> Result<Checked, ConfigError> {
        let err = |key: String, reason: String| ConfigError::new(source, key, reason);
        let s = &self.server;
        let listen: SocketAddr = s.listen.parse().map_err(|e| {
            err(
                "server.listen".into(),
                format!("`{}` is not an address:port ({e})", s.listen),
            )
        })?;
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return Err(err(
                "server.tls_cert".into(),
                "tls_cert and tls_key go together".into(),
            ));
        }
        if s.tls_client_ca.is_some() && s.tls_cert.is_none() {
            return Err(err(
                "server.tls_client_ca".into(),
                "mutual TLS needs HTTPS: set tls_cert and tls_key too".into(),
            ));
        }
        if s.tls_cert.is_none() && !listen.ip().is_loopback() {
            return Err(err(
                "server.listen".into(),
                format!(
                    "plain HTTP is allowed only on loopback; {listen} needs tls_cert and tls_key"
                ),
            ));
        }
        let default_tlp = TlpLevel::parse(&s.default_tlp).ok_or_else(|| {
            err(
                "server.default_tlp".into(),
                format!(
                    "`{}` is not a TLP level (clear, green, amber, amber+strict, red)",
                    s.default_tlp
                ),
            )
        })?;
        if s.status_retention_hours < 24 {
            return Err(err(
                "server.status_retention_hours".into(),
                "TAXII 2.1 requires status resources to be kept at least 24 hours".into(),
            ));
        }
        if s.max_content_length < 1024 {
            return Err(err(
                "server.max_content_length".into(),
                "must be at least 1024 bytes".into(),
            ));
        }
        if s.max_page_size == 0 || s.default_page_size == 0 || s.default_page_size > s.max_page_size
        {
            return Err(err(
                "server.default_page_size".into(),
                "page sizes must be positive and default_page_size ≤ max_page_size".into(),
            ));
        }
        if s.audit_journal_max_mb == 0 || s.audit_journal_max_mb > 1 << 20 {
            return Err(err(
                "server.audit_journal_max_mb".into(),
                "must be between 1 and 1048576".into(),
            ));
        }
        if let Some(key) = &s.cursor_key
            && (key.len() < 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(err(
                "server.cursor_key".into(),
                "must be at least 64 hex digits (32 bytes)".into(),
            ));
        }
        for (key, value) in [
            (
                "server.header_read_timeout_seconds",
                s.header_read_timeout_seconds,
            ),
            ("server.idle_timeout_seconds", s.idle_timeout_seconds),
            ("server.request_timeout_seconds", s.request_timeout_seconds),
        ] {
            if value == 0 {
                return Err(err(
                    key.into(),
                    "must be a positive number of seconds".into(),
                ));
            }
        }
        if s.max_connections < 16 {
            return Err(err(
                "server.max_connections".into(),
                "must be at least 16".into(),
            ));
        }
        if let Some(m) = &s.metrics_listen
            && m.parse::<SocketAddr>().is_err()
        {
            return Err(err(
                "server.metrics_listen".into(),
                format!("`{m}` is not an address:port"),
            ));
        }
        if !s.metrics_path.starts_with('/')
            || s.metrics_path == "/"
            || s.metrics_path.starts_with("/taxii2")
            || s.metrics_path.trim_end_matches('/') == "/lookup"
        {
            return Err(err(
                "server.metrics_path".into(),
                "must be a path like /metrics outside /taxii2/".into(),
            ));
        }
        let database = match &s.database {
            Some(url)
                if url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:") =>
            {
                url.clone()
            }
            Some(url) => {
                return Err(err(
                    "server.database".into(),
                    format!(
                        "`{}` is neither sqlite:PATH nor postgres://…",
                        redact_url(url)
                    ),
                ));
            }
            None => format!("sqlite://{}", s.data_dir.join("shieldwall.db").display()),
        };

        let mut names = std::collections::HashSet::new();
        for (i, r) in self.api_roots.iter().enumerate() {
            if !is_path_segment(&r.name)
                || r.name == "taxii2"
                || r.name == "healthz"
                || r.name == "lookup"
                || r.name == "ui"
                || format!("/{}", r.name) == s.metrics_path
            {
                return Err(err(
                    format!("api_roots[{i}].name"),
                    format!(
                        "`{}` must be a path segment of letters, digits, '-' or '_' and not a reserved path",
                        r.name
                    ),
                ));
            }
            if !names.insert(r.name.as_str()) {
                return Err(err(
                    format!("api_roots[{i}].name"),
                    format!("`{}` is declared twice", r.name),
                ));
            }
        }
        if self.api_roots.iter().filter(|r| r.default).count() > 1 {
            return Err(err(
                "api_roots".into(),
                "at most one API root may be the default".into(),
            ));
        }
        let mut principals = std::collections::HashSet::new();
        for (i, m) in self.members.iter().enumerate() {
            if !is_path_segment(&m.id) {
                return Err(err(
                    format!("members[{i}].id"),
                    format!("`{}` must be letters, digits, '-' or '_'", m.id),
                ));
            }
            if !principals.insert(m.id.as_str()) {
                return Err(err(
                    format!("members[{i}].id"),
                    format!("`{}` is already a member or trust group", m.id),
                ));
            }
            if !is_stix_id(&m.identity, "identity") {
                return Err(err(
                    format!("members[{i}].identity"),
                    format!("`{}` is not an identity--UUID id", m.identity),
                ));
            }
            if m.identity.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(err(
                    format!("members[{i}].identity"),
                    format!(
                        "`{}` must be in canonical (lower-case) form: `{}`",
                        m.identity,
                        m.identity.to_ascii_lowercase()
                    ),
                ));
            }
            if self.members[..i].iter().any(|o| o.identity == m.identity) {
                return Err(err(
                    format!("members[{i}].identity"),
                    "two members cannot share one identity".into(),
                ));
            }
        }
        for (i, g) in self.trust_groups.iter().enumerate() {
            if !is_path_segment(&g.id) || !principals.insert(g.id.as_str()) {
                return Err(err(
                    format!("trust_groups[{i}].id"),
                    format!("`{}` is invalid or already a member or trust group", g.id),
                ));
            }
            for (j, m) in g.members.iter().enumerate() {
                if !self.members.iter().any(|x| &x.id == m) {
                    return Err(err(
                        format!("trust_groups[{i}].members[{j}]"),
                        format!("no member `{m}`"),
                    ));
                }
            }
        }
        let mut user_names = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if u.name.is_empty() || u.name.contains(':') || !user_names.insert(u.name.as_str()) {
                return Err(err(
                    format!("users[{i}].name"),
                    format!("`{}` is empty, contains ':' or is declared twice", u.name),
                ));
            }
            if !self.members.iter().any(|m| m.id == u.member) {
                return Err(err(
                    format!("users[{i}].member"),
                    format!("no member `{}`", u.member),
                ));
            }
            if argon2::password_hash::phc::PasswordHash::new(&u.password_hash).is_err() {
                return Err(err(
                    format!("users[{i}].password_hash"),
                    "not an argon2 PHC string (use `shieldwall admin add-user`)".into(),
                ));
            }
        }
        let mut key_ids = std::collections::HashSet::new();
        for (i, k) in self.api_keys.iter().enumerate() {
            if !is_path_segment(&k.id) || !key_ids.insert(k.id.as_str()) {
                return Err(err(
                    format!("api_keys[{i}].id"),
                    format!("`{}` is invalid or declared twice", k.id),
                ));
            }
            if !self.members.iter().any(|m| m.id == k.member) {
                return Err(err(
                    format!("api_keys[{i}].member"),
                    format!("no member `{}`", k.member),
                ));
            }
            if k.digest.len() != 64 || !k.digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(
                    format!("api_keys[{i}].digest"),
                    "must be 64 hex digits (SHA-256)".into(),
                ));
            }
            if let Some(e) = &k.expires
                && crate::timestamps::parse_us(e).is_none()
            {
                return Err(err(
                    format!("api_keys[{i}].expires"),
                    format!("`{e}` is not a timestamp such as 2027-01-31T00:00:00Z"),
                ));
            }
        }
        let mut coll_ids = std::collections::HashSet::new();
        for (i, c) in self.collections.iter().enumerate() {
            if uuid::Uuid::parse_str(&c.id).is_err() || c.id.len() != 36 {
                return Err(err(
                    format!("collections[{i}].id"),
                    format!("`{}` is not a UUID", c.id),
                ));
            }
            if !coll_ids.insert(c.id.to_ascii_lowercase()) {
                return Err(err(
                    format!("collections[{i}].id"),
                    format!("`{}` is declared twice", c.id),
                ));
            }
            if !self.api_roots.iter().any(|r| r.name == c.api_root) {
                return Err(err(
                    format!("collections[{i}].api_root"),
                    format!("no API root `{}`", c.api_root),
                ));
            }
            if let Some(g) = &c.trust_group
                && !self.trust_groups.iter().any(|t| &t.id == g)
            {
                return Err(err(
                    format!("collections[{i}].trust_group"),
                    format!("no trust group `{g}`"),
                ));
            }
            for (field, list) in [
                ("read", &c.read),
                ("write", &c.write),
                ("red_recipients", &c.red_recipients),
            ] {
                for (j, p) in list.iter().enumerate() {
                    let known = (p == "*" && field != "red_recipients")
                        || self.members.iter().any(|m| &m.id == p)
                        || self.trust_groups.iter().any(|t| &t.id == p);
                    if !known {
                        return Err(err(
                            format!("collections[{i}].{field}[{j}]"),
                            format!("no member or trust group `{p}`"),
                        ));
                    }
                }
            }
            if let Some(alias) = &c.alias
                && self.collections[..i]
                    .iter()
                    .any(|o| o.api_root == c.api_root && o.alias.as_ref() == Some(alias))
            {
                return Err(err(
                    format!("collections[{i}].alias"),
                    format!("alias `{alias}` is used twice in one API root"),
                ));
            }
        }
        self.check_peers(source)?;
        Ok(Checked {
            listen,
            default_tlp,
            database,
            config: self,
        })
    }
}

impl Config {
    fn check_peers(&self, source: &str) -> Result<(), ConfigError> {
        let err = |key: String, reason: String| ConfigError::new(source, key, reason);
        let member_known = |m: &str| self.members.iter().any(|x| x.id == m);
        if let Some(m) = &self.sync.member
            && !member_known(m)
        {
            return Err(err("sync.member".into(), format!("no member `{m}`")));
        }
        for (i, p) in self.peers.iter().enumerate() {
            let key = |k: &str| format!("peers[{i}].{k}");
            if !is_path_segment(&p.name) || self.peers[..i].iter().any(|o| o.name == p.name) {
                return Err(err(
                    key("name"),
                    format!(
                        "`{}` must be a unique name of letters, digits, '-' or '_'",
                        p.name
                    ),
                ));
            }
            let loopback_http = p.url.strip_prefix("http://").is_some_and(|rest| {
                let host = rest.split(['/', ':']).next().unwrap_or("");
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
                    || rest.starts_with("[::1]")
            });
            if !(p.url.starts_with("https://") || loopback_http) {
                return Err(err(
                    key("url"),
                    format!(
                        "`{}` must be https://… (plain http:// only on loopback)",
                        redact_url(&p.url)
                    ),
                ));
            }
            if !is_path_segment(&p.api_root) {
                return Err(err(key("api_root"), "must be a path segment".into()));
            }
            if !member_known(&p.member) {
                return Err(err(key("member"), format!("no member `{}`", p.member)));
            }
            if p.client_cert.is_some() != p.client_key.is_some() {
                return Err(err(
                    key("client_cert"),
                    "client_cert and client_key go together".into(),
                ));
            }
            if p.tls_only_ca_cert && p.ca_cert.is_none() {
                return Err(err(
                    key("tls_only_ca_cert"),
                    "needs ca_cert (there would be no root to trust)".into(),
                ));
            }
            let basic = p.username.is_some();
            let bearer = p.token.is_some() || p.token_env.is_some();
            if basic && bearer {
                return Err(err(
                    key("username"),
                    "give Basic (username + password) or a bearer token, not both".into(),
                ));
            }
            if basic && p.password.is_none() && p.password_env.is_none() {
                return Err(err(
                    key("password"),
                    "username needs password or password_env".into(),
                ));
            }
            if let Some(actor) = &p.inbound_actor {
                let account_member = self
                    .users
                    .iter()
                    .find(|u| &u.name == actor)
                    .map(|u| &u.member)
                    .or_else(|| {
                        let id = actor.strip_prefix("key:").unwrap_or(actor);
                        self.api_keys.iter().find(|k| k.id == id).map(|k| &k.member)
                    });
                match account_member {
                    None => {
                        return Err(err(
                            key("inbound_actor"),
                            format!("`{actor}` is neither a user nor an API key id"),
                        ));
                    }
                    Some(m) if m != &p.member => {
                        return Err(err(
                            key("inbound_actor"),
                            format!(
                                "`{actor}` belongs to member `{m}`, but the peer is operated by `{}`",
                                p.member
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                if self.peers[..i]
                    .iter()
                    .any(|o| o.inbound_actor.as_deref() == Some(actor.as_str()))
                {
                    return Err(err(
                        key("inbound_actor"),
                        format!("`{actor}` is already the node account of another peer"),
                    ));
                }
            }
            if p.page_size == 0 || p.timeout_seconds == 0 {
                return Err(err(
                    key("page_size"),
                    "page_size and timeout_seconds must be positive".into(),
                ));
            }
            for (j, m) in p.collections.iter().enumerate() {
                let ckey = |k: &str| format!("peers[{i}].collections[{j}].{k}");
                if !self
                    .collections
                    .iter()
                    .any(|c| c.id.eq_ignore_ascii_case(&m.local))
                {
                    return Err(err(ckey("local"), format!("no collection `{}`", m.local)));
                }
                if m.remote.is_empty() || !is_path_segment(&m.remote) {
                    return Err(err(ckey("remote"), "must be a collection id".into()));
                }
                if m.interval_seconds == 0 {
                    return Err(err(ckey("interval_seconds"), "must be positive".into()));
                }
            }
        }
        Ok(())
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is `{prefix}--{uuid}`.
pub fn is_stix_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix("--"))
        .is_some_and(|u| u.len() == 36 && uuid::Uuid::parse_str(u).is_ok())
}

/// A database URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Sets `path` in the table to `value`, parsed as a TOML value when it parses (numbers, booleans,
/// arrays), else taken as a string. Array elements are addressed by index (`COLLECTIONS__0__TITLE`).
fn apply_override(table: &mut toml::Table, path: &[String], value: &str) -> Result<(), String> {
    let parsed: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, parents) = path.split_last().ok_or("empty key")?;
    let mut cur: &mut toml::Value = table
        .entry(parents[0].clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    for seg in &parents[1..] {
        cur = step(cur, seg)?;
    }
    match cur {
        toml::Value::Table(t) => {
            t.insert(last.clone(), parsed);
            Ok(())
        }
        toml::Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("`{last}` is not an index"))?;
            let slot = a
                .get_mut(i)
                .ok_or_else(|| format!("index {i} is out of range"))?;
            *slot = parsed;
            Ok(())
        }
        _ => Err("cannot set a key below a value".to_owned()),
    }
}

fn step<'a>(cur: &'a mut toml::Value, seg: &str) -> Result<&'a mut toml::Value, String> {
    match cur {
        toml::Value::Table(t) => Ok(t
            .entry(seg.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))),
        toml::Value::Array(a) => {
            let i: usize = seg
                .parse()
                .map_err(|_| format!("`{seg}` is not an index"))?;
            a.get_mut(i)
                .ok_or_else(|| format!("index {i} is out of range"))
        }
        _ => Err("cannot set a key below a value".to_owned()),
    }
}

/// The commented default configuration `shieldwall init` writes.
pub const DEFAULT_TOML: &str = include_str!("config/default.toml");

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_default_file_is_valid() {
        let c = Config::from_toml(DEFAULT_TOML, "default.toml", &[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.default_tlp, TlpLevel::Amber);
        assert!(c.database.starts_with("sqlite://"));
    }

    #[test]
    fn environment_overrides_keys() {
        let c = Config::from_toml(
            DEFAULT_TOML,
            "x.toml",
            &env(&[
                ("SHIELDWALL_SERVER__LISTEN", "127.0.0.1:9999"),
                ("SHIELDWALL_SERVER__MAX_PAGE_SIZE", "500"),
                ("SHIELDWALL_PYTHON", "/usr/bin/python3"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.config.server.max_page_size, 500);
    }

    #[test]
    fn bad_configs_name_file_key_and_reason() {
        let e =
            Config::from_toml("[server]\nlisten = \"0.0.0.0:80\"\n", "a.toml", &[]).unwrap_err();
        assert_eq!(
            (e.source_name.as_str(), e.key.as_str()),
            ("a.toml", "server.listen")
        );
        assert!(e.reason.contains("loopback"), "{e}");

        let e = Config::from_toml("[server]\nlisten = 5\n", "b.toml", &[]).unwrap_err();
        assert_eq!(e.key, "server.listen");

        let e = Config::from_toml("[server]\nlistn = \"x\"\n", "c.toml", &[]).unwrap_err();
        assert!(e.reason.contains("listn"), "{e}");

        let e = Config::from_toml("[server\n", "d.toml", &[]).unwrap_err();
        assert!(e.key.starts_with("line 1"), "{e}");

        let text = "[[api_roots]]\nname = \"r\"\ntitle = \"R\"\n[[collections]]\nid = \"91a7b528-80eb-42ed-a74d-c6fbd5a26116\"\napi_root = \"r\"\ntitle = \"t\"\nread = [\"nobody\"]\n";
        let e = Config::from_toml(text, "e.toml", &[]).unwrap_err();
        assert_eq!(e.key, "collections[0].read[0]");

        let e = Config::from_toml(
            "",
            "f.toml",
            &env(&[("SHIELDWALL_SERVER__STATUS_RETENTION_HOURS", "1")]),
        )
        .unwrap_err();
        assert_eq!(e.key, "server.status_retention_hours");
    }

    #[test]
    fn the_console_path_is_no_api_root() {
        let text = "[server]\ndata_dir = \"d\"\n[[api_roots]]\nname = \"ui\"\ntitle = \"R\"\n";
        let e = Config::from_toml(text, "u.toml", &[]).unwrap_err();
        assert_eq!(e.key, "api_roots[0].name", "{e}");
        assert!(e.reason.contains("reserved"), "{e}");
    }

    #[test]
    fn member_identities_are_canonical() {
        let text = "[[members]]\nid = \"ma\"\nname = \"A\"\nidentity = \"identity--0000000A-0000-4000-8000-000000000000\"\n";
        let e = Config::from_toml(text, "i.toml", &[]).unwrap_err();
        assert_eq!(e.key, "members[0].identity");
        assert!(e.reason.contains("identity--0000000a-"), "{e}");
        assert!(Config::from_toml(&text.replace("0A", "0a"), "i.toml", &[]).is_ok());
    }

    #[test]
    fn a_peer_node_account_belongs_to_the_peer_member() {
        let base = r#"
[[members]]
id = "ma"
name = "A"
identity = "identity--00000001-0000-4000-8000-000000000000"
[[members]]
id = "mb"
name = "B"
identity = "identity--00000002-0000-4000-8000-000000000000"
[[api_keys]]
id = "node-b"
member = "mb"
role = "reader"
digest = "0000000000000000000000000000000000000000000000000000000000000000"
[[api_keys]]
id = "someone-a"
member = "ma"
role = "reader"
digest = "1111111111111111111111111111111111111111111111111111111111111111"
[[peers]]
name = "b"
url = "https://b.example"
api_root = "r"
member = "mb"
"#;
        let with = |actor: &str| format!("{base}inbound_actor = \"{actor}\"\n");
        assert!(Config::from_toml(&with("key:node-b"), "p.toml", &[]).is_ok());
        assert!(Config::from_toml(&with("node-b"), "p.toml", &[]).is_ok());
        let e = Config::from_toml(&with("key:someone-a"), "p.toml", &[]).unwrap_err();
        assert_eq!(e.key, "peers[0].inbound_actor");
        assert!(e.reason.contains("`ma`"), "{e}");
        let e = Config::from_toml(&with("nobody"), "p.toml", &[]).unwrap_err();
        assert!(e.reason.contains("neither a user nor an API key"), "{e}");
        let e = Config::from_toml(&format!("{base}client_cert = \"/c.pem\"\n"), "p.toml", &[])
            .unwrap_err();
        assert_eq!(e.key, "peers[0].client_cert");
    }

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let sub = PathBuf::from("/srv/etc");
        let load = |env: &[(String, String)]| {
            Config::from_file_text(
                "[server]\ndata_dir = \"data\"\n[[peers]]\nname = \"p\"\nurl = \"https://p.example\"\napi_root = \"r\"\nmember = \"m\"\nca_cert = \"ca.pem\"\n[[members]]\nid = \"m\"\nname = \"M\"\nidentity = \"identity--00000001-0000-4000-8000-000000000000\"\n",
                "node.toml",
                &sub,
                env,
            )
        };
        let c = load(&[]).unwrap();
        assert_eq!(c.config.server.data_dir, sub.join("data"));
        assert_eq!(
            c.database,
            format!("sqlite://{}", sub.join("data/shieldwall.db").display())
        );
        assert_eq!(
            c.config.peers[0].ca_cert.as_deref(),
            Some(&*sub.join("ca.pem"))
        );
        // A relative sqlite:// database, from the environment too; absolute paths stay.
        let env = env(&[("SHIELDWALL_SERVER__DATABASE", "sqlite://db/x.db?mode=rwc")]);
        let c = load(&env).unwrap();
        assert_eq!(
            c.database,
            format!("sqlite://{}?mode=rwc", sub.join("db/x.db").display())
        );
        let env2 = self::env(&[("SHIELDWALL_SERVER__DATA_DIR", "/var/lib/sw")]);
        let c = load(&env2).unwrap();
        assert_eq!(c.config.server.data_dir, PathBuf::from("/var/lib/sw"));
        // Connection limits are checked.
        for bad in [
            "header_read_timeout_seconds = 0",
            "idle_timeout_seconds = 0",
            "max_connections = 3",
        ] {
            let e = Config::from_toml(&format!("[server]\n{bad}\n"), "l.toml", &[]).unwrap_err();
            assert!(bad.starts_with(e.key.trim_start_matches("server.")), "{e}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }

    #[test]
    fn misnamed_variables_are_named_with_what_was_meant() {
        let e = env(&[
            ("SHIELDWALL_LISTEN", "127.0.0.1:1"),
            ("SHIELDWALL_SERVER_DATABASE", "x"),
            ("SHIELDWALL_SYNC_ENABLED", "true"),
            ("SHIELDWALL_SERVER", "x"),
            ("SHIELDWALL_SERVER__LISTEN", "127.0.0.1:2"),
            ("SHIELDWALL_LOG", "debug"),
            ("SHIELDWALL_PYTHON", "/usr/bin/python3"),
            ("OTHER_LISTEN", "x"),
        ]);
        let w = Config::misnamed_env(&e);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].starts_with("SHIELDWALL_LISTEN sets nothing"), "{w:?}");
        assert!(w[0].contains("SHIELDWALL_SERVER__LISTEN?"), "{w:?}");
        assert!(w[1].contains("SHIELDWALL_SERVER__DATABASE?"), "{w:?}");
        assert!(w[2].contains("SHIELDWALL_SYNC__ENABLED?"), "{w:?}");
        assert!(w[3].starts_with("SHIELDWALL_SERVER sets nothing"), "{w:?}");
        assert!(w[3].contains("SHIELDWALL_SERVER__"), "{w:?}");
    }
}
