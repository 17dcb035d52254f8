//! The audio folder: recordings kept by content hash (`<dir>/ab/<sha256>.wav`), written
//! durably (temporary file, fsync, rename) before the database row that points at them.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct AudioStore {
    dir: PathBuf,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl AudioStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(..2).unwrap_or("00");
        self.dir.join(shard).join(format!("{sha256}.wav"))
    }

    /// Stores the bytes under their hash (once) and returns the hash. Blocking I/O: call
    /// from `spawn_blocking`.
    pub fn put(&self, bytes: &[u8]) -> anyhow::Result<String> {
        let sha = sha256_hex(bytes);
        write_once(&self.path_of(&sha), bytes)?;
        Ok(sha)
    }

    /// Keeps bytes that could not be used (a pushed recording hound cannot read) in
    /// `<dir>/quarantine/`, so nothing a PBX sent is lost. Returns where they are.
    pub fn keep_rejected(&self, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let path = self
            .dir
            .join("quarantine")
            .join(format!("{}.bin", sha256_hex(bytes)));
        write_once(&path, bytes)?;
        Ok(path)
    }

    /// The file at `path` if it is one `keep_rejected` wrote (so youmen's to delete); None
    /// for anything else, such as a file in the PBX's spool.
    pub fn kept_rejected(&self, path: &Path) -> Option<PathBuf> {
        let folder = self.dir.join("quarantine");
        let name = path.file_name()?.to_str()?;
        let ours = path.parent() == Some(folder.as_path())
            && name.len() == 68
            && name.ends_with(".bin")
            && name[..64].bytes().all(|b| b.is_ascii_hexdigit());
        ours.then(|| folder.join(name))
    }

    pub fn is_writable(&self) -> bool {
        std::fs::create_dir_all(&self.dir).is_ok()
            && tempfile::NamedTempFile::new_in(&self.dir).is_ok()
    }
}

/// Writes `bytes` at `path` durably unless a file is already there (content-addressed
/// paths: an existing file has the same bytes).
fn write_once(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let folder = path.parent().context("recording path has a folder")?;
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    // A unique temporary name: two passes may store the same audio at once; the rename is
    // atomic and either copy is the same bytes.
    let mut tmp = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("creating a temporary file in {}", folder.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("storing {}", path.display()))?;
    sync_dir(folder);
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
