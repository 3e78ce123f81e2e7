//! Encryption at rest: XChaCha20-Poly1305 for fields and key wrapping, keyed
//! HMAC-SHA256 blind indexes for exact-match lookups.
//!
//! Key hierarchy: the master key lives outside the database (key file or
//! environment). It wraps one data key per customer and per invoice, plus two
//! system keys kept in `keyring`: the blind-index key and the system key (audit
//! source addresses of non-customer actors). Rotating the master key re-wraps
//! those keys only; no field is rewritten.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Blind indexes are truncated HMACs: 128 bits keeps collisions out of reach
/// while halving index size.
const INDEX_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext failed authentication (wrong key, or moved or altered data)")]
    Authentication,
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("a master key is 64 hexadecimal characters (32 bytes)")]
    BadMasterKey,
}

/// A 256-bit symmetric key, wiped from memory when dropped.
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub fn generate() -> Key {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        Key(k)
    }

    fn from_slice(b: &[u8]) -> Result<Key, CryptoError> {
        let arr: [u8; 32] = b.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Key(Zeroizing::new(arr)))
    }

    /// Reads a master key written by [`Key::to_hex`] (surrounding whitespace and
    /// an optional `custodian-master-key-v1:` prefix allowed).
    pub fn from_hex(s: &str) -> Result<Key, CryptoError> {
        let s = s.trim();
        let s = s.strip_prefix(MASTER_PREFIX).unwrap_or(s);
        let bytes = Zeroizing::new(hex::decode(s).map_err(|_| CryptoError::BadMasterKey)?);
        Key::from_slice(&bytes).map_err(|_| CryptoError::BadMasterKey)
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{MASTER_PREFIX}{}", hex::encode(self.0.as_ref())))
    }

    /// A short public fingerprint, to tell keys apart without revealing them.
    pub fn fingerprint(&self) -> String {
        hex::encode(&hmac(self, b"custodian/fingerprint")[..8])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.0.as_ref().into())
    }

    /// Encrypts `plaintext`, binding it to `aad` (which is not stored).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication)
    }

    /// Wraps another key under this one; `label` names the wrapped key's slot.
    pub fn wrap(&self, label: &str, key: &Key) -> Vec<u8> {
        self.seal(wrap_aad(label).as_bytes(), key.0.as_ref())
    }

    pub fn unwrap_key(&self, label: &str, wrapped: &[u8]) -> Result<Key, CryptoError> {
        let raw = self.open(wrap_aad(label).as_bytes(), wrapped)?;
        Key::from_slice(&raw)
    }

    /// The keyed blind index of `value` in lookup domain `domain` (e.g. `email`).
    pub fn blind_index(&self, domain: &str, value: &str) -> Vec<u8> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).expect("HMAC takes any key length");
        m.update(domain.as_bytes());
        m.update(&[0]);
        m.update(value.as_bytes());
        m.finalize().into_bytes()[..INDEX_LEN].to_vec()
    }
}

const MASTER_PREFIX: &str = "custodian-master-key-v1:";

fn wrap_aad(label: &str) -> String {
    format!("custodian/wrap/{label}")
}

fn hmac(key: &Key, msg: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key.0.as_ref()).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// Associated data for a field: the ciphertext only opens in this table, row and
/// column, under the owner's key. `row` is the data key ID for single-row owners
/// (customers, invoices) and the row ID for tables with many rows per owner.
pub fn field_aad(table: &str, row: i64, column: &str) -> Vec<u8> {
    format!("custodian/field/{table}/{row}/{column}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let k = Key::generate();
        let other = Key::generate();
        let ct = k.seal(b"a", b"secret");
        assert_eq!(k.open(b"a", &ct).unwrap().as_slice(), b"secret");
        assert!(matches!(k.open(b"b", &ct), Err(CryptoError::Authentication)));
        assert!(matches!(other.open(b"a", &ct), Err(CryptoError::Authentication)));
        let mut flipped = ct.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(k.open(b"a", &flipped).is_err());
        assert!(matches!(k.open(b"a", &ct[..10]), Err(CryptoError::Malformed)));
    }

    #[test]
    fn wrapping_and_hex_round_trip() {
        let master = Key::generate();
        let dek = Key::generate();
        let w = master.wrap("dek/7", &dek);
        assert_eq!(master.unwrap_key("dek/7", &w).unwrap().fingerprint(), dek.fingerprint());
        assert!(master.unwrap_key("dek/8", &w).is_err());
        let again = Key::from_hex(&master.to_hex()).unwrap();
        assert_eq!(again.fingerprint(), master.fingerprint());
        assert!(Key::from_hex("abcd").is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_domain_separated() {
        let k = Key::generate();
        assert_eq!(k.blind_index("email", "a@b.nl"), k.blind_index("email", "a@b.nl"));
        assert_ne!(k.blind_index("email", "a@b.nl"), k.blind_index("kvk", "a@b.nl"));
        assert_ne!(k.blind_index("email", "a@b.nl"), Key::generate().blind_index("email", "a@b.nl"));
        assert_eq!(k.blind_index("email", "x").len(), INDEX_LEN);
    }
}
