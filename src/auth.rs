//! Secrets: API tokens and session ids (random, shown once, stored only as SHA-256) and staff
//! passwords (argon2id, hashed off the async runtime).
//!
//! A fast hash is right for tokens and sessions (unlike passwords): the secret has 256 bits
//! of entropy, so there is nothing to guess, and every request checks one.

use std::sync::Arc;

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

/// The longest a token may be issued for, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// Issues a token: the secret (to be shown once) and its stored record. `expires_in_days`
/// None: until revoked.
pub async fn issue_token(
    store: &dyn crate::storage::Store,
    name: &str,
    role: crate::domain::Role,
    expires_in_days: Option<u32>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<(String, crate::storage::TokenRecord)> {
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "a token needs a name");
    anyhow::ensure!(
        name.chars().count() <= 100,
        "a token's name is at most 100 characters"
    );
    if let Some(days) = expires_in_days {
        anyhow::ensure!(
            (1..=MAX_TOKEN_DAYS).contains(&days),
            "a token expires in 1 to {MAX_TOKEN_DAYS} days"
        );
    }
    let expires_at = expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d)));
    let token = generate_token();
    let record = store
        .insert_token(name, role, &hash_token(&token), expires_at, now)
        .await?;
    Ok((token, record))
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
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Password hashing is deliberately slow: at most one hash per core runs at once, so a flood
/// of sign-ins cannot take the machine from everyone else.
fn hashing_permits() -> &'static Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Arc::new(tokio::sync::Semaphore::new(cores))
    })
}

/// Every core is hashing a password already: try again in a moment.
#[derive(Debug, thiserror::Error)]
#[error("every core is busy hashing passwords")]
pub struct Busy;

/// An argon2id hash (PHC string) of a password, computed on a blocking thread once a core is
/// free for it.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    anyhow::ensure!(
        password.chars().count() >= MIN_PASSWORD_CHARS,
        "the password must have at least {MIN_PASSWORD_CHARS} characters"
    );
    let permit = hashing_permits().clone().acquire_owned().await?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))
    })
    .await?
}

/// How long a check waits for a core before it is turned away.
const WAIT_FOR_A_CORE: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether `password` matches the stored hash, checked on a blocking thread; `Busy`, without
/// hashing, when no core came free for it within a few seconds.
pub async fn verify_password(password: String, hash: String) -> Result<bool, Busy> {
    verify_with(hashing_permits(), WAIT_FOR_A_CORE, password, hash).await
}

async fn verify_with(
    permits: &Arc<tokio::sync::Semaphore>,
    wait: std::time::Duration,
    password: String,
    hash: String,
) -> Result<bool, Busy> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let permit = tokio::time::timeout(wait, permits.clone().acquire_owned())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)?;
    Ok(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false))
}

/// How long an account waits before its next sign-in after `failures` wrong passwords in a
/// row: nothing for the first `free` (a typo), then 1, 2, 4… seconds, at most `most`. A delay
/// slows a guesser down without letting anyone lock a clerk out.
pub fn sign_in_delay(failures: i64, free: i64, most: chrono::Duration) -> chrono::Duration {
    if failures < free.max(0) {
        return chrono::Duration::zero();
    }
    let exponent = u32::try_from((failures - free).clamp(0, 30)).unwrap_or(30);
    chrono::Duration::seconds(1i64 << exponent).min(most)
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
        assert!(verify_password("correct horse battery".into(), h1.clone())
            .await
            .unwrap());
        assert!(!verify_password("wrong horse battery".into(), h1)
            .await
            .unwrap());
        assert!(
            hash_password("eleven char".into()).await.is_err(),
            "12 at least"
        );
    }

    #[test]
    fn delays_grow_after_a_few_mistakes_and_stop_at_the_cap() {
        let most = chrono::Duration::seconds(60);
        let d = |n| sign_in_delay(n, 3, most).num_seconds();
        assert_eq!(
            [d(0), d(2), d(3), d(4), d(6), d(12), d(40)],
            [0, 0, 1, 2, 8, 60, 60]
        );
    }

    #[tokio::test]
    async fn a_check_is_turned_away_when_no_core_comes_free() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        let permits = Arc::new(tokio::sync::Semaphore::new(1));
        let wait = std::time::Duration::from_millis(50);
        let held = permits.clone().try_acquire_owned().unwrap();
        let busy = verify_with(&permits, wait, "correct horse battery".into(), hash.clone());
        assert!(
            busy.await.is_err(),
            "every core busy: turned away, unhashed"
        );
        drop(held);
        let checked = verify_with(&permits, wait, "correct horse battery".into(), hash);
        assert!(checked.await.unwrap());
    }
}
