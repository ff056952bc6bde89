//! Encryption of tokens at rest (XChaCha20-Poly1305, random 192-bit nonce per value).

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, AeadCore, KeyInit, OsRng},
    XChaCha20Poly1305, XNonce,
};
use std::path::Path;

#[derive(Clone)]
pub struct TokenCipher {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("token key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("cannot read or create the token key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("encrypted value is corrupt or was encrypted with another key")]
    Decrypt,
}

impl TokenCipher {
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Ok(TokenCipher { cipher: XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| CryptoError::BadKey)? })
    }

    /// A cipher under `key`.
    pub fn from_bytes(key: &[u8; 32]) -> Self {
        TokenCipher { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    /// A cipher under a fresh random key, and that key.
    pub fn generate() -> (Self, [u8; 32]) {
        let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        (Self::from_bytes(&key), key)
    }

    /// The configured key, or the key file in the data dir (created with mode 0600 on first use).
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(key) = configured {
            return Self::from_base64(key);
        }
        let path = data_dir.join("token.key");
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(key) => Self::from_base64(&key),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|source| CryptoError::KeyFile { path: shown.clone(), source })?;
                let key = STANDARD.encode(XChaCha20Poly1305::generate_key(&mut OsRng));
                write_private(&path, &key).map_err(|source| CryptoError::KeyFile { path: shown, source })?;
                Self::from_base64(&key)
            }
            Err(source) => Err(CryptoError::KeyFile { path: shown, source }),
        }
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(self.cipher.encrypt(&nonce, plaintext).expect("encryption of in-memory data cannot fail"));
        out
    }

    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < 24 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, body) = data.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| CryptoError::Decrypt)?;
        self.cipher.decrypt(&XNonce::from(nonce), body).map_err(|_| CryptoError::Decrypt)
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let dir = std::env::temp_dir().join(format!("erx-key-{}", crate::smart::random_token(6)));
        let c = TokenCipher::load_or_create(None, &dir).unwrap();
        let again = TokenCipher::load_or_create(None, &dir).unwrap();
        let sealed = c.encrypt(b"secret-token");
        assert!(!sealed.windows(12).any(|w| w == b"secret-token"));
        assert_eq!(again.decrypt(&sealed).unwrap(), b"secret-token");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(c.decrypt(&tampered).is_err());
        let other = TokenCipher::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(other.decrypt(&sealed).is_err());
        assert!(TokenCipher::from_base64("c2hvcnQ=").is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
