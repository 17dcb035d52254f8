//! The instance's secret key, and the keys derived from it for each use: the ID-card
//! digests, the keyed digests of client addresses that limits count, the website's signed form
//! tokens. One key is configured (`secrets.key`, at least 32 bytes) or, when none is, generated
//! on first start into `secrets.dir` (mode 0600) and read from there afterwards, so the one
//! command that starts youmen still works. Several instances must share one key: set the same
//! `YOUMEN__SECRETS__KEY` on each.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::config::Settings;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// What the defaults once shipped: never a secret.
const PLACEHOLDERS: [&str; 1] = ["youmen-default-pepper-change-me"];

/// The file a generated key is kept in, inside `secrets.dir`.
const KEY_FILE: &str = "youmen.key";

#[derive(Clone)]
pub struct Secrets {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

impl Secrets {
    /// The configured key, or the one generated into `secrets.dir` (made on first start).
    pub fn load(settings: &Settings) -> anyhow::Result<Secrets> {
        let configured = settings.secrets.key.trim();
        if !configured.is_empty() {
            return Secrets::from_key(configured.as_bytes()).context(
                "secrets.key (YOUMEN__SECRETS__KEY) must be at least 32 bytes of random text, \
                 e.g. the output of `openssl rand -base64 48`; or leave it empty to have one \
                 generated into secrets.dir",
            );
        }
        let path = settings.secrets.dir.join(KEY_FILE);
        let key = match std::fs::read(&path) {
            Ok(key) => key,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match generate(&path) {
                Ok(key) => key,
                // Another process starting beside this one wrote it first: theirs it is.
                Err(_) if path.exists() => {
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Secrets::from_key(&key).with_context(|| {
            format!(
                "{} is not a usable key: delete it to have a new one generated (digests made \
                 with the old key stop matching), or set secrets.key",
                path.display()
            )
        })
    }

    /// A key given as bytes: refused when short or a published placeholder.
    pub fn from_key(key: &[u8]) -> anyhow::Result<Secrets> {
        let text = String::from_utf8_lossy(key);
        anyhow::ensure!(
            !PLACEHOLDERS.iter().any(|p| text.trim() == *p),
            "the key is the placeholder the defaults once shipped"
        );
        anyhow::ensure!(
            key.len() >= MIN_KEY_BYTES,
            "the key has {} bytes; at least {MIN_KEY_BYTES} are needed",
            key.len()
        );
        Ok(Secrets { key: key.to_vec() })
    }

    /// The key for one use (`purpose`), derived from the instance's key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"youmen/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Writes a new random key to `path` (its folder made if needed), readable by its owner only.
/// The key is written whole to a temporary file first and then linked into place, so another
/// instance starting at the same moment reads either nothing or the whole key, never half.
fn generate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = hex::encode(bytes).into_bytes();
    // Temporary files are created readable by their owner only (0600).
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    file.write_all(&key)?;
    file.as_file().sync_all()?;
    file.persist_noclobber(path)
        .with_context(|| format!("creating {}", path.display()))?;
    tracing::warn!(
        file = %path.display(),
        "no secrets.key configured: a new one was generated; keep this file with the data (and \
         give every instance the same key)"
    );
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_and_the_old_placeholder_are_refused() {
        assert!(Secrets::from_key(b"short").is_err());
        assert!(Secrets::from_key(b"youmen-default-pepper-change-me").is_err());
        assert!(Secrets::from_key(&[7u8; 32]).is_ok());
    }

    #[test]
    fn each_use_gets_its_own_key() {
        let s = Secrets::from_key(&[7u8; 40]).unwrap();
        assert_ne!(s.derive("id-card"), s.derive("address"));
        assert_eq!(s.derive("id-card"), s.derive("id-card"));
    }

    #[test]
    fn a_generated_key_is_kept_for_its_owner_only_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets").join(KEY_FILE);
        let first = generate(&path).unwrap();
        assert!(Secrets::from_key(&first).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap(), first);
        assert!(generate(&path).is_err(), "never overwritten");
    }
}
