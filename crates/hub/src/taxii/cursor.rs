//! `next` cursors: stateless, opaque, tamper-proof. A cursor is the position of the last record
//! served (`date_added`, row) with an HMAC-SHA256 over that position and the request it belongs
//! to (endpoint, collection, object, caller, filters), under a key shared through the database.
//! It stays valid across restarts and across nodes on one database; any other string, or a
//! cursor replayed with other filters or by another caller, is refused.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// The key and the codec.
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A codec with this key.
    pub fn new(key: Vec<u8>) -> CursorKey {
        CursorKey(key)
    }

    fn tag(&self, payload: &[u8], context: &str) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload);
        mac.update(&[0]);
        mac.update(context.as_bytes());
        mac.finalize().into_bytes()[..TAG_LEN].to_vec()
    }

    /// Encodes a position for a request context.
    pub fn encode(&self, date_added_us: i64, row: i64, context: &str) -> String {
        let mut payload = Vec::with_capacity(17 + TAG_LEN);
        payload.push(VERSION);
        payload.extend_from_slice(&date_added_us.to_be_bytes());
        payload.extend_from_slice(&row.to_be_bytes());
        let tag = self.tag(&payload, context);
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// Decodes a cursor issued for this context, or `None`.
    pub fn decode(&self, cursor: &str, context: &str) -> Option<(i64, i64)> {
        if cursor.len() > 128 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if raw.len() != 17 + TAG_LEN || raw[0] != VERSION {
            return None;
        }
        let (payload, tag) = raw.split_at(17);
        let expected = self.tag(payload, context);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(tag, expected.as_slice())) {
            return None;
        }
        let d = i64::from_be_bytes(payload[1..9].try_into().ok()?);
        let r = i64::from_be_bytes(payload[9..17].try_into().ok()?);
        Some((d, r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = CursorKey::new(vec![7; 32]);
        let c = k.encode(1_600_000_000_000_000, 42, "objects|c|alice|limit");
        assert_eq!(
            k.decode(&c, "objects|c|alice|limit"),
            Some((1_600_000_000_000_000, 42))
        );
        assert_eq!(k.decode(&c, "objects|c|bob|limit"), None, "another caller");
        assert_eq!(
            CursorKey::new(vec![8; 32]).decode(&c, "objects|c|alice|limit"),
            None,
            "another key"
        );
        let mut bytes = c.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(k.decode(&forged, "objects|c|alice|limit"), None);
        assert_eq!(k.decode("", "x"), None);
        assert_eq!(k.decode("not base64 at all!", "x"), None);
    }
}
