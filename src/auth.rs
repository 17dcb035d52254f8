//! Secrets: API tokens and session ids (random, shown once, stored only as SHA-256) and staff
//! passwords (argon2id, hashed off the async runtime).
//!
//! A fast hash is right for tokens and sessions (unlike passwords): the secret has 256 bits
//! of entropy, so there is nothing to guess, and every request checks one.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "ym_";

/// A new token secret, `ym_` and 43 URL-safe characters.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets (a CSRF token, a tracking-code digest) in constant time.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// A random secret for a session cookie or a CSRF token.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The shortest password accepted for a staff account.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// An argon2id hash (PHC string) of a password, computed on a blocking thread.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    anyhow::ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "the password must have at least {MIN_PASSWORD_CHARS} characters"
    );
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
    })
    .await?
}

/// Whether `password` matches the stored hash, checked on a blocking thread.
pub async fn verify_password(password: String, hash: String) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed_stably() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with("ym_") && a.len() == 46);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[tokio::test]
    async fn passwords_are_salted_and_verified() {
        let h1 = hash_password("correct horse battery".into()).await.unwrap();
        let h2 = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2, "salted");
        assert!(verify_password("correct horse battery".into(), h1.clone()).await);
        assert!(!verify_password("wrong horse battery".into(), h1).await);
        assert!(hash_password("short".into()).await.is_err());
    }
}
