//! Finding messages in an Asterisk voicemail spool:
//! `<spool>/<context>/<mailbox>/{INBOX,Urgent}/msgNNNN.txt` plus its audio files.
//! Greetings (`unavail`, `busy`, `greet`, `temp`) live in the mailbox folder itself and are
//! never looked at. The spool is the PBX's: this module only reads.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The folders new messages land in. Urgent messages go to `Urgent/`, not `INBOX/`.
pub const FOLDERS: [&str; 2] = ["INBOX", "Urgent"];

/// Audio extensions Asterisk may write, best first: `.wav` is 16-bit PCM and readable;
/// the others are kept for a precise quarantine reason.
const AUDIO_EXTENSIONS: [&str; 7] = ["wav", "WAV", "gsm", "ulaw", "alaw", "sln", "g722"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolMessage {
    pub context: String,
    pub mailbox: String,
    pub folder: String,
    /// `…/INBOX/msg0003` without an extension.
    pub base: PathBuf,
}

impl SpoolMessage {
    pub fn txt(&self) -> PathBuf {
        self.base.with_extension("txt")
    }

    /// `context/mailbox`, as the configuration names mailboxes.
    pub fn mailbox_path(&self) -> String {
        format!("{}/{}", self.context, self.mailbox)
    }

    /// The audio files beside the metadata, best first, with their extension.
    pub fn audio_files(&self) -> Vec<(String, PathBuf)> {
        AUDIO_EXTENSIONS
            .iter()
            .map(|ext| (ext.to_string(), self.base.with_extension(ext)))
            .filter(|(_, p)| p.is_file())
            .collect()
    }

    pub fn is_urgent_folder(&self) -> bool {
        self.folder == "Urgent"
    }
}

fn dirs(path: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

/// `msgNNNN` from a file name, when it is one.
fn message_stem(name: &str) -> Option<&str> {
    let stem = name.split('.').next()?;
    let digits = stem.strip_prefix("msg")?;
    (digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit())).then_some(stem)
}

/// Every complete message (one with its `.txt`) in the spool, in path order.
pub fn scan(spool: &Path) -> std::io::Result<Vec<SpoolMessage>> {
    if !spool.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("the voicemail spool {} is not a folder", spool.display()),
        ));
    }
    let mut out = Vec::new();
    for (context, context_dir) in dirs(spool) {
        for (mailbox, mailbox_dir) in dirs(&context_dir) {
            for folder in FOLDERS {
                let Ok(entries) = std::fs::read_dir(mailbox_dir.join(folder)) else {
                    continue;
                };
                let mut stems: Vec<String> = entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let stem = message_stem(&name)?.to_owned();
                        name.ends_with(".txt").then_some(stem)
                    })
                    .collect();
                stems.sort();
                out.extend(stems.into_iter().map(|stem| SpoolMessage {
                    context: context.clone(),
                    mailbox: mailbox.clone(),
                    folder: folder.to_owned(),
                    base: mailbox_dir.join(folder).join(stem),
                }));
            }
        }
    }
    Ok(out)
}

/// Audio files with no `.txt` beside them, untouched for longer than `age`: recordings that
/// never completed. Younger ones are still being recorded and are left alone.
pub fn orphans(spool: &Path, age: Duration, now: SystemTime) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (_, context_dir) in dirs(spool) {
        for (_, mailbox_dir) in dirs(&context_dir) {
            for folder in FOLDERS {
                let Ok(entries) = std::fs::read_dir(mailbox_dir.join(folder)) else {
                    continue;
                };
                for entry in entries.filter_map(Result::ok) {
                    let path = entry.path();
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if message_stem(&name).is_none() || name.ends_with(".txt") {
                        continue;
                    }
                    if path.with_extension("txt").exists() {
                        continue;
                    }
                    let old = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|m| now.duration_since(m).ok())
                        .is_some_and(|elapsed| elapsed > age);
                    if old {
                        out.push(path);
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// Reads a spool file of at most `cap` bytes, in one open: a symbolic link is refused (a
/// spool file must be the PBX's own, not a pointer to some other file youmen can read), so is
/// anything but a regular file, and the read stops past the cap whatever the size said before.
pub async fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    use tokio::io::AsyncReadExt;
    let mut options = tokio::fs::OpenOptions::new();
    options.read(true);
    // O_NONBLOCK: opening a FIFO put in the spool returns at once instead of waiting.
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let file = options.open(path).await.map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return "the file is a symbolic link: refused (spool files must be the PBX's own)"
                .to_owned();
        }
        format!("cannot read {}: {e}", path.display())
    })?;
    let meta = file
        .metadata()
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err("not a regular file: refused".into());
    }
    let mut bytes = Vec::with_capacity(meta.len().min(cap) as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.is_empty() {
        return Err("the file is empty (0 bytes)".into());
    }
    if bytes.len() as u64 > cap {
        return Err(format!(
            "the file is over the limit of {cap} bytes ({} bytes or more)",
            cap + 1
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn finds_inbox_and_urgent_messages_and_ignores_greetings_and_other_folders() {
        let dir = tempfile::tempdir().unwrap();
        let mb = dir.path().join("default/3105883");
        touch(&mb.join("INBOX/msg0000.txt"));
        touch(&mb.join("INBOX/msg0000.wav"));
        touch(&mb.join("Urgent/msg0000.txt"));
        touch(&mb.join("Old/msg0000.txt"));
        touch(&mb.join("unavail.wav"));
        touch(&mb.join("INBOX/msg0001.wav")); // still recording
        let found = scan(dir.path()).unwrap();
        let folders: Vec<_> = found.iter().map(|m| m.folder.as_str()).collect();
        assert_eq!(folders, ["INBOX", "Urgent"]);
        assert_eq!(found[0].mailbox_path(), "default/3105883");
        assert_eq!(found[0].audio_files().len(), 1);
        assert!(found[1].is_urgent_folder());
    }

    #[test]
    fn audio_without_metadata_is_an_orphan_only_once_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("default/3105883/INBOX/msg0001.wav"));
        let now = SystemTime::now();
        assert!(orphans(dir.path(), Duration::from_secs(3600), now).is_empty());
        let later = now + Duration::from_secs(7200);
        assert_eq!(
            orphans(dir.path(), Duration::from_secs(3600), later).len(),
            1
        );
    }

    #[test]
    fn a_missing_spool_is_an_error() {
        assert!(scan(Path::new("/nonexistent/spool")).is_err());
    }
}
