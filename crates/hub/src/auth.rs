//! Authentication: HTTP Basic against argon2 password hashes, and bearer API keys
//! (`sw_<key id>_<secret>`, kept as a SHA-256 digest). Every failure is the same 401.
//!
//! A verified password is remembered for a short time under a salted digest of the credentials,
//! so a busy client does not cost an argon2 hash per request; an unknown user costs the same hash
//! work as a known one, and secrets are compared in constant time.
//!
//! Password verification is bounded ([`Guard`], shared by every authenticator of the process,
//! across configuration reloads):
//! - at most `concurrency` verifications run at once, each in one of as many preallocated argon2
//!   memory blocks that are reused, never freed and re-allocated per attempt; at most 32 per slot
//!   wait, further attempts are answered 429 at once;
//! - failed attempts are throttled by client address and by user name (see [`Throttle`]): a
//!   throttled attempt is answered 429 with `Retry-After` before any hash work, and a cached
//!   credential is answered before the throttle is consulted, so a signed-in client keeps working;
//! - every failed or throttled login is logged (warning) with the client address and user name.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{audit::Auditor, audit_chain::Entry, coalition::Coalition, policy::Principal};

/// Entries kept in the credential cache before it is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// Verified credentials (salted digest) → principal and when it was verified.
type CredentialCache = HashMap<[u8; 32], (Principal, Instant)>;

tokio::task_local! {
    /// The address of the client whose request is being served (set by the server per request).
    pub static CLIENT_ADDR: SocketAddr;
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No valid credentials (always the same 401).
    Unauthenticated,
    /// Too many failed logins from this address or for this user: retry after this many seconds.
    Throttled(u64),
}

/// Failure budgets, as leaky buckets: a bucket holds up to `burst` failures and leaks one every
/// `every`. An attempt that would overflow a bucket is refused before any hash work.
#[derive(Debug, Clone, Copy)]
struct Budget {
    burst: f64,
    every: Duration,
}

/// Per client address (IPv6 by /64): 20 failures, then one every 3 s.
const PER_ADDRESS: Budget = Budget {
    burst: 20.0,
    every: Duration::from_secs(3),
};
/// Per (address, user name): 5 failures, then one every 12 s.
const PER_PAIR: Budget = Budget {
    burst: 5.0,
    every: Duration::from_secs(12),
};
/// Per user name over all addresses: 100 failures, then one a second. When it is full, only
/// addresses with no recent failure for that user are still verified (the real user elsewhere).
const PER_USER: Budget = Budget {
    burst: 100.0,
    every: Duration::from_secs(1),
};
/// Password checks that may wait per verification slot; beyond, an attempt is answered 429 at
/// once (a queue of ~32 checks per slot drains in about a second).
const QUEUE_PER_SLOT: usize = 32;
/// Most buckets kept per table; beyond it, empty ones are forgotten, then the oldest table is.
const MAX_BUCKETS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    fn level(&self, b: Budget, now: Instant) -> f64 {
        let leaked = now.saturating_duration_since(self.at).as_secs_f64() / b.every.as_secs_f64();
        (self.level - leaked).max(0.0)
    }
    /// Seconds until one more failure fits.
    fn retry_after(&self, b: Budget, now: Instant) -> u64 {
        let over = self.level(b, now) + 1.0 - b.burst;
        (over * b.every.as_secs_f64()).ceil().max(1.0) as u64
    }
}

fn bucket_table_add<K: std::hash::Hash + Eq + Clone>(
    table: &mut HashMap<K, Bucket>,
    key: &K,
    b: Budget,
    delta: f64,
    now: Instant,
) {
    if table.len() >= MAX_BUCKETS && !table.contains_key(key) {
        table.retain(|_, v| v.level(b, now) > 0.0);
        if table.len() >= MAX_BUCKETS {
            table.clear();
        }
    }
    let entry = table.entry(key.clone()).or_insert(Bucket {
        level: 0.0,
        at: now,
    });
    entry.level = (entry.level(b, now) + delta).max(0.0);
    entry.at = now;
}

/// Failed-login buckets by address, by (address, user) and by user.
#[derive(Debug, Default)]
pub struct Throttle {
    by_address: HashMap<IpAddr, Bucket>,
    by_pair: HashMap<(IpAddr, String), Bucket>,
    by_user: HashMap<String, Bucket>,
}

/// The address a budget is kept under: IPv4 as is, IPv6 by its /64 (one host's usual share).
fn budget_address(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Throttle {
    /// Charges one failure in advance for an attempt by `user` from `addr`, or says how long to
    /// wait. The charge is taken back by [`Throttle::refund`] when the password was right, so
    /// concurrent attempts cannot all pass the check before any of them failed.
    pub fn charge(&mut self, addr: IpAddr, user: &str, now: Instant) -> Result<(), u64> {
        let addr = budget_address(addr);
        let pair = (addr, user.to_owned());
        let full = |t: Option<&Bucket>, b: Budget| -> Option<u64> {
            t.filter(|x| x.level(b, now) + 1.0 > b.burst)
                .map(|x| x.retry_after(b, now))
        };
        if let Some(s) = full(self.by_address.get(&addr), PER_ADDRESS) {
            return Err(s);
        }
        if let Some(s) = full(self.by_pair.get(&pair), PER_PAIR) {
            return Err(s);
        }
        let pair_clean = self
            .by_pair
            .get(&pair)
            .is_none_or(|b| b.level(PER_PAIR, now) == 0.0);
        if !pair_clean && let Some(s) = full(self.by_user.get(user), PER_USER) {
            return Err(s);
        }
        bucket_table_add(&mut self.by_address, &addr, PER_ADDRESS, 1.0, now);
        bucket_table_add(&mut self.by_pair, &pair, PER_PAIR, 1.0, now);
        bucket_table_add(&mut self.by_user, &user.to_owned(), PER_USER, 1.0, now);
        Ok(())
    }

    /// Takes back the charge of an attempt whose password was right.
    pub fn refund(&mut self, addr: IpAddr, user: &str, now: Instant) {
        let addr = budget_address(addr);
        bucket_table_add(&mut self.by_address, &addr, PER_ADDRESS, -1.0, now);
        bucket_table_add(
            &mut self.by_pair,
            &(addr, user.to_owned()),
            PER_PAIR,
            -1.0,
            now,
        );
        bucket_table_add(&mut self.by_user, &user.to_owned(), PER_USER, -1.0, now);
    }
}

/// What bounds password verification for the whole process: a semaphore of `concurrency`
/// permits, as many reusable argon2 memory blocks, the failed-login throttle, and the dummy hash
/// unknown users are verified against. Shared by every [`Authenticator`] (reloads keep it).
#[derive(Debug)]
pub struct Guard {
    permits: tokio::sync::Semaphore,
    /// Checks waiting for a slot or running; beyond `max_queued`, a check is not queued.
    queued: std::sync::atomic::AtomicUsize,
    max_queued: usize,
    memory: Mutex<Vec<Vec<Block>>>,
    throttle: Mutex<Throttle>,
    dummy_hash: String,
    concurrency: usize,
}

impl Guard {
    /// A guard allowing `concurrency` simultaneous verifications (0: one per CPU core).
    pub fn new(concurrency: usize) -> Arc<Guard> {
        let n = if concurrency == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            concurrency
        };
        // A hash with the same parameters as real ones, so that unknown users cost the same.
        let dummy_hash = hash_password("shieldwall-dummy-password").unwrap_or_default();
        Arc::new(Guard {
            permits: tokio::sync::Semaphore::new(n),
            queued: std::sync::atomic::AtomicUsize::new(0),
            max_queued: n * (1 + QUEUE_PER_SLOT),
            memory: Mutex::new(Vec::new()),
            throttle: Mutex::new(Throttle::default()),
            dummy_hash,
            concurrency: n,
        })
    }

    /// How many verifications may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Verifies `password` against the PHC string `phc` in a reused memory block (blocking: call
    /// it on a blocking thread while holding a permit).
    fn verify(&self, password: &[u8], phc: &str) -> bool {
        let mut blocks = self
            .memory
            .lock()
            .ok()
            .and_then(|mut m| m.pop())
            .unwrap_or_default();
        let ok = verify_with_memory(password, phc, &mut blocks);
        if let Ok(mut m) = self.memory.lock()
            && m.len() < self.concurrency
        {
            m.push(blocks);
        }
        ok
    }
}

/// A place in the queue of password checks, left when dropped (also when the request is
/// abandoned, e.g. by its timeout).
struct Queued(Arc<Guard>);

impl Queued {
    fn enter(guard: &Arc<Guard>) -> Option<Queued> {
        use std::sync::atomic::Ordering;
        let before = guard.queued.fetch_add(1, Ordering::AcqRel);
        if before >= guard.max_queued {
            guard.queued.fetch_sub(1, Ordering::AcqRel);
            None
        } else {
            Some(Queued(guard.clone()))
        }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0
            .queued
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Argon2 verification of `password` against `phc` using `blocks` as the working memory (grown
/// when the hash needs more; kept by the caller for the next verification).
fn verify_with_memory(password: &[u8], phc: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let needed = params.block_count();
    if blocks.len() < needed {
        blocks.resize(needed, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params);
    if argon
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..needed])
        .is_err()
    {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
}

/// The authenticator.
#[derive(Clone)]
pub struct Authenticator {
    coalition: Arc<Coalition>,
    cache: Arc<Mutex<CredentialCache>>,
    ttl: Duration,
    salt: [u8; 32],
    guard: Arc<Guard>,
    /// Where sign-ins and failed sign-ins are recorded.
    audit: Auditor,
    /// API keys whose sign-in was recorded, and when (one record per key per `ttl`).
    keys_signed_in: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Hashes a password with argon2id (random salt) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// A new API key for `key_id`: the token to show once, and its digest to keep.
pub fn new_api_key(key_id: &str) -> (String, String) {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system provides random bytes");
    // Hex, not base64url: the secret must not contain '_', which separates it from the key id.
    let token = format!("sw_{key_id}_{}", hex(&secret));
    let digest = hex(&Sha256::digest(token.as_bytes()));
    (token, digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client address of the request being served, if the server set one.
fn client_addr() -> Option<SocketAddr> {
    CLIENT_ADDR.try_with(|a| *a).ok()
}

impl Authenticator {
    /// An authenticator over the coalition's users and keys, with its own guard.
    pub fn new(coalition: Arc<Coalition>, ttl: Duration) -> Authenticator {
        Authenticator::with_guard(coalition, ttl, Guard::new(0))
    }

    /// An authenticator sharing `guard` (verification slots, memory, throttle) with others; its
    /// credential cache starts empty.
    pub fn with_guard(
        coalition: Arc<Coalition>,
        ttl: Duration,
        guard: Arc<Guard>,
    ) -> Authenticator {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).expect("the operating system provides random bytes");
        Authenticator {
            coalition,
            cache: Arc::new(Mutex::new(HashMap::new())),
            ttl,
            salt,
            guard,
            audit: Auditor::off(),
            keys_signed_in: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The same authenticator recording sign-ins and failed sign-ins in `audit`.
    pub fn with_audit(mut self, audit: Auditor) -> Authenticator {
        self.audit = audit;
        self
    }

    /// The guard this authenticator verifies under.
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let value = authorization.ok_or(AuthError::Unauthenticated)?;
        let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Unauthenticated)?;
        if scheme.eq_ignore_ascii_case("basic") {
            self.basic(rest.trim_matches(' ')).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(rest.trim_matches(' ')).await
        } else {
            Err(AuthError::Unauthenticated)
        }
    }

    async fn bearer(&self, token: &str) -> Result<Principal, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let key_id = token
            .strip_prefix("sw_")
            .and_then(|r| r.rsplit_once('_'))
            .map(|(id, _)| id)
            .unwrap_or("");
        let key = self.coalition.api_keys.get(key_id);
        let expected = key.map(|k| k.digest).unwrap_or([0xff; 32]);
        let equal: bool = digest.ct_eq(&expected).into();
        // An expired key is refused like a wrong one (checked per request: no reload needed).
        let live = key.is_some_and(|k| {
            k.expires_us
                .is_none_or(|until| crate::timestamps::now_us() < until)
        });
        match key {
            Some(k) if equal && live => {
                let p = Principal {
                    member: k.member.clone(),
                    role: k.role,
                    actor: format!("key:{}", k.id),
                };
                // One sign-in record per key per cache period, not one per request.
                let fresh = match self.keys_signed_in.lock() {
                    Ok(mut seen) => match seen.get(&k.id) {
                        Some(at) if at.elapsed() < self.ttl => false,
                        _ => {
                            seen.insert(k.id.clone(), Instant::now());
                            true
                        }
                    },
                    Err(_) => false,
                };
                if fresh && let Err(e) = self.audit_sign_in(&p, "taxii").await {
                    // Not recorded: the next request tries again.
                    if let Ok(mut seen) = self.keys_signed_in.lock() {
                        seen.remove(&k.id);
                    }
                    return Err(e);
                }
                Ok(p)
            }
            _ => {
                let address = client_addr()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                let key: String = key_id.chars().take(64).collect();
                tracing::warn!(%address, %key, "Failed login: unknown, wrong or expired API key.");
                metrics::counter!("shieldwall_failed_logins_total", "kind" => "key").increment(1);
                // The key id only: the token's secret part is never recorded.
                self.audit
                    .record_failure(
                        Entry::new(
                            "anonymous",
                            "sign-in-failed",
                            "taxii",
                            &format!("key:{key}"),
                            "failed",
                        )
                        .detail(&format!(
                            "reason=unknown, wrong or expired API key address={address}"
                        )),
                    )
                    .await;
                Err(AuthError::Unauthenticated)
            }
        }
    }

    async fn basic(&self, encoded: &str) -> Result<Principal, AuthError> {
        let address = client_addr();
        let shown_address = address.map(|a| a.ip().to_string()).unwrap_or_default();
        let malformed = || {
            tracing::warn!(address = %shown_address, "Failed login: malformed Basic credentials.");
            metrics::counter!("shieldwall_failed_logins_total", "kind" => "malformed").increment(1);
            AuthError::Unauthenticated
        };
        let parsed = (encoded.len() <= 1024)
            .then(|| STANDARD.decode(encoded).ok())
            .flatten()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|t| t.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())));
        let Some((user, password)) = parsed else {
            let e = malformed();
            self.audit
                .record_failure(
                    Entry::new("anonymous", "sign-in-failed", "taxii", "user:?", "failed").detail(
                        &format!("reason=malformed credentials address={shown_address}"),
                    ),
                )
                .await;
            return Err(e);
        };
        self.check_password(&user, &password, "taxii", true).await
    }

    /// Signs `user` in with `password` for the web console: the same throttle, verification
    /// slots and audit trail as Basic authentication (recorded on channel `channel`), but never
    /// answered from the credential cache, so that every sign-in is verified and recorded.
    pub async fn sign_in(
        &self,
        user: &str,
        password: &str,
        channel: &str,
    ) -> Result<Principal, AuthError> {
        if user.len() > 256 || password.len() > 1024 {
            return Err(AuthError::Unauthenticated);
        }
        self.check_password(user, password, channel, false).await
    }

    async fn check_password(
        &self,
        user: &str,
        password: &str,
        channel: &str,
        use_cache: bool,
    ) -> Result<Principal, AuthError> {
        let address = client_addr();
        let shown_address = address.map(|a| a.ip().to_string()).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let cache_key: [u8; 32] = h.finalize().into();
        if use_cache
            && let Ok(cache) = self.cache.lock()
            && let Some((p, at)) = cache.get(&cache_key)
            && at.elapsed() < self.ttl
        {
            return Ok(p.clone());
        }
        let shown_user: String = user.chars().take(64).collect();
        let ip = address.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let charged = match self.guard.throttle.lock() {
            Ok(mut t) => t.charge(ip, user, Instant::now()),
            Err(_) => Ok(()),
        };
        if let Err(retry_after) = charged {
            tracing::warn!(address = %shown_address, user = %shown_user, retry_after, "Login throttled: too many failed attempts.");
            metrics::counter!("shieldwall_failed_logins_total", "kind" => "throttled").increment(1);
            return Err(AuthError::Throttled(retry_after));
        }
        let known = self.coalition.users.get(user).cloned();
        let hash = known
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.guard.dummy_hash.clone());
        // A bounded queue: a flood from many addresses waits at most about a second, and a
        // connection is never held long by a check that has not started.
        let queued = Queued::enter(&self.guard);
        if queued.is_none() {
            if let Ok(mut t) = self.guard.throttle.lock() {
                t.refund(ip, user, Instant::now());
            }
            tracing::warn!(address = %shown_address, user = %shown_user, retry_after = 1, "Login throttled: too many password checks waiting.");
            metrics::counter!("shieldwall_failed_logins_total", "kind" => "busy").increment(1);
            return Err(AuthError::Throttled(1));
        }
        let verified = {
            // Waiting for a permit costs no memory; only `concurrency` hashes run at once.
            let permit = self.guard.permits.acquire().await;
            let guard = self.guard.clone();
            let password = password.as_bytes().to_vec();
            let verified = tokio::task::spawn_blocking(move || guard.verify(&password, &hash))
                .await
                .unwrap_or(false);
            drop(permit);
            drop(queued);
            verified
        };
        match known {
            Some(u) if verified => {
                if let Ok(mut t) = self.guard.throttle.lock() {
                    t.refund(ip, user, Instant::now());
                }
                let p = Principal {
                    member: u.member.clone(),
                    role: u.role,
                    actor: u.name.clone(),
                };
                // Recorded before the credentials are cached: a sign-in that cannot be recorded
                // does not happen.
                self.audit_sign_in(&p, channel).await?;
                if use_cache && let Ok(mut cache) = self.cache.lock() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(cache_key, (p.clone(), Instant::now()));
                }
                Ok(p)
            }
            _ => {
                let why = if known.is_some() {
                    "wrong password"
                } else {
                    "unknown user"
                };
                tracing::warn!(address = %shown_address, user = %shown_user, "Failed login: {why}.");
                metrics::counter!("shieldwall_failed_logins_total", "kind" => "password")
                    .increment(1);
                // The claimed name (bounded), never the password.
                self.audit
                    .record_failure(
                        Entry::new(
                            "anonymous",
                            "sign-in-failed",
                            channel,
                            &format!("user:{shown_user}"),
                            "failed",
                        )
                        .detail(&format!("reason={why} address={shown_address}")),
                    )
                    .await;
                Err(AuthError::Unauthenticated)
            }
        }
    }
}

impl Authenticator {
    /// Records the sign-in of `p`; a sign-in that cannot be recorded is refused.
    async fn audit_sign_in(&self, p: &Principal, channel: &str) -> Result<(), AuthError> {
        let address = client_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let role = p.role.as_str();
        let entry = Entry::new(
            &p.actor,
            "sign-in",
            channel,
            &format!("member:{}", p.member),
            "ok",
        )
        .detail(&format!("role={role} address={address}"));
        self.audit.record(entry).await.map_err(|e| {
            tracing::error!(error = %e, "Sign-in refused: it could not be audited.");
            AuthError::Unauthenticated
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn api_keys_parse_back_to_their_id() {
        for _ in 0..200 {
            let (token, digest) = new_api_key("feed_bot-1");
            let (id, secret) = token.strip_prefix("sw_").unwrap().rsplit_once('_').unwrap();
            assert_eq!(id, "feed_bot-1");
            assert_eq!(secret.len(), 64);
            assert_eq!(digest, hex(&Sha256::digest(token.as_bytes())));
        }
    }

    #[test]
    fn verification_in_reused_memory_agrees_with_argon2() {
        let phc = hash_password("correct horse").unwrap();
        let mut blocks = Vec::new();
        assert!(verify_with_memory(b"correct horse", &phc, &mut blocks));
        let len = blocks.len();
        assert!(len > 0);
        assert!(!verify_with_memory(b"correct hors", &phc, &mut blocks));
        assert!(!verify_with_memory(
            b"correct horse",
            "$argon2id$nonsense",
            &mut blocks
        ));
        // A hash with other parameters, in the same (grown or reused) memory.
        let small = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 2, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert!(verify_with_memory(b"pw", &small, &mut blocks));
        assert!(!verify_with_memory(b"pW", &small, &mut blocks));
        assert_eq!(blocks.len(), len, "the memory is reused, not re-allocated");
    }

    #[test]
    fn the_throttle_refuses_a_guesser_but_not_the_user_elsewhere() {
        let mut t = Throttle::default();
        let now = Instant::now();
        let attacker: IpAddr = "192.0.2.7".parse().unwrap();
        let user_home: IpAddr = "198.51.100.1".parse().unwrap();
        // Five guesses at alice from one address, then refused with a wait.
        for _ in 0..5 {
            t.charge(attacker, "alice", now).unwrap();
        }
        let wait = t.charge(attacker, "alice", now).unwrap_err();
        assert!((1..=12).contains(&wait), "{wait}");
        // Alice from her own address is still verified (and refunded when right).
        t.charge(user_home, "alice", now).unwrap();
        t.refund(user_home, "alice", now);
        // The attacker moves on to other names: 20 failures per address in all.
        for i in 0..15 {
            t.charge(attacker, &format!("u{i}"), now).unwrap();
        }
        assert!(t.charge(attacker, "bob", now).is_err());
        // Budgets leak: after a minute the address may try again.
        assert!(
            t.charge(attacker, "bob", now + Duration::from_secs(60))
                .is_ok()
        );
        // IPv6 addresses share the budget of their /64.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        for _ in 0..5 {
            t.charge(a, "carol", now).unwrap();
        }
        assert!(t.charge(b, "carol", now).is_err());
    }

    #[test]
    fn a_user_under_distributed_attack_still_logs_in_from_a_clean_address() {
        let mut t = Throttle::default();
        let now = Instant::now();
        for i in 0..120u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = t.charge(ip, "alice", now);
        }
        // An address that already failed for alice is refused; a clean one is verified.
        let seen = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + 119));
        assert!(t.charge(seen, "alice", now).is_err());
        let clean: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(t.charge(clean, "alice", now).is_ok());
    }
}
