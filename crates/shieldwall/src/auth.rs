//! Authentication: HTTP Basic against argon2 password hashes, and bearer API keys
//! (`sw_<key id>_<secret>`, kept as a SHA-256 digest). Every failure is the same 401.
//!
//! A verified password is remembered for a short time under a salted digest of the credentials,
//! so a busy client does not cost an argon2 hash per request; an unknown user costs the same hash
//! work as a known one, and secrets are compared in constant time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{coalition::Coalition, policy::Principal};

/// Entries kept in the credential cache before it is cleared.
const CACHE_CAPACITY: usize = 10_000;

/// Verified credentials (salted digest) → principal and when it was verified.
type CredentialCache = HashMap<[u8; 32], (Principal, Instant)>;

/// Why a request is not authenticated (all render as the same 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthenticated;

/// The authenticator.
#[derive(Clone)]
pub struct Authenticator {
    coalition: Arc<Coalition>,
    cache: Arc<Mutex<CredentialCache>>,
    ttl: Duration,
    salt: [u8; 32],
    dummy_hash: Arc<String>,
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

impl Authenticator {
    /// An authenticator over the coalition's users and keys.
    pub fn new(coalition: Arc<Coalition>, ttl: Duration) -> Authenticator {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).expect("the operating system provides random bytes");
        // A hash with the same parameters as real ones, so that unknown users cost the same.
        let dummy_hash = hash_password("shieldwall-dummy-password").unwrap_or_default();
        Authenticator {
            coalition,
            cache: Arc::new(Mutex::new(HashMap::new())),
            ttl,
            salt,
            dummy_hash: Arc::new(dummy_hash),
        }
    }

    /// Authenticates an `Authorization` header value.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Principal, Unauthenticated> {
        let value = authorization.ok_or(Unauthenticated)?;
        let (scheme, rest) = value.split_once(' ').ok_or(Unauthenticated)?;
        if scheme.eq_ignore_ascii_case("basic") {
            self.basic(rest.trim()).await
        } else if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer(rest.trim())
        } else {
            Err(Unauthenticated)
        }
    }

    fn bearer(&self, token: &str) -> Result<Principal, Unauthenticated> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let key_id = token
            .strip_prefix("sw_")
            .and_then(|r| r.rsplit_once('_'))
            .map(|(id, _)| id)
            .unwrap_or("");
        let key = self.coalition.api_keys.get(key_id);
        let expected = key.map(|k| k.digest).unwrap_or([0xff; 32]);
        let equal: bool = digest.ct_eq(&expected).into();
        match key {
            Some(k) if equal => Ok(Principal {
                member: k.member.clone(),
                role: k.role,
                actor: format!("key:{}", k.id),
            }),
            _ => Err(Unauthenticated),
        }
    }

    async fn basic(&self, encoded: &str) -> Result<Principal, Unauthenticated> {
        if encoded.len() > 1024 {
            return Err(Unauthenticated);
        }
        let decoded = STANDARD.decode(encoded).map_err(|_| Unauthenticated)?;
        let text = String::from_utf8(decoded).map_err(|_| Unauthenticated)?;
        let (user, password) = text.split_once(':').ok_or(Unauthenticated)?;
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let cache_key: [u8; 32] = h.finalize().into();
        if let Ok(cache) = self.cache.lock()
            && let Some((p, at)) = cache.get(&cache_key)
            && at.elapsed() < self.ttl
        {
            return Ok(p.clone());
        }
        let known = self.coalition.users.get(user).cloned();
        let hash = known
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let password = password.to_owned();
        let verified = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        match known {
            Some(u) if verified => {
                let p = Principal {
                    member: u.member.clone(),
                    role: u.role,
                    actor: u.name.clone(),
                };
                if let Ok(mut cache) = self.cache.lock() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(cache_key, (p.clone(), Instant::now()));
                }
                Ok(p)
            }
            _ => Err(Unauthenticated),
        }
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
}
