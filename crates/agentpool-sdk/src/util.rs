//! Small helpers shared by the lifecycle: timestamps, ids, hashing and file writes.

use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, ErrorCode, Result};

/// Current UTC time as RFC 3339 with microseconds and `Z`.
pub fn now() -> String {
    format_ts(OffsetDateTime::now_utc())
}

/// Formats a UTC time as RFC 3339 with microseconds and `Z`.
pub fn format_ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Parses an RFC 3339 timestamp (either `Z` or an offset).
pub fn parse_ts(raw: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339).ok()
}

/// `n` random lowercase hex characters from the OS random source.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    // The OS source failing is not recoverable in any useful way; fall back to time-derived
    // bytes rather than panicking so ids stay unique enough for a local tool.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos().to_le_bytes();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = nanos[i % nanos.len()] ^ (i as u8).wrapping_mul(31);
        }
    }
    let mut out = hex(&bytes);
    out.truncate(n);
    out
}

/// A new session id: `ap_` + 12 hex characters.
pub fn new_session_id() -> String {
    format!("ap_{}", random_hex(12))
}

/// A new coordinator id: `coord_` + 12 hex characters.
pub fn new_coordinator_id() -> String {
    format!("coord_{}", random_hex(12))
}

/// Checks that a session id is well-formed before it is used in a path or query.
pub fn is_valid_session_id(id: &str) -> bool {
    id.len() <= 64
        && id.starts_with("ap_")
        && id.len() > 3
        && id[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// SHA-256 hex of a file's contents, or `None` when it cannot be read. Streams the file, so a
/// transcript of any size is hashed in a fixed buffer.
pub fn sha256_file(path: &Path) -> Option<String> {
    std::fs::File::open(path).and_then(sha256_reader).ok()
}

/// SHA-256 of everything `r` yields, read through a fixed buffer.
pub fn sha256_reader<R: std::io::Read>(mut r: R) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes a file atomically (temp file + rename) so readers never see half a file.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format_args!("could not create `{}`", dir.display()), &e))?;
    let tmp =
        dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"), random_hex(8)));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(format_args!("could not write `{}`", path.display()), &e)
    })
}

/// Writes a user-named output file (`observe --output`): only ever a regular file, in a
/// directory that already exists, through a temp file and a rename. A symlink, FIFO, device or
/// directory at `path` is refused (`INVALID_OUTPUT`) and left as it was; so is a missing parent
/// directory, which is never created.
pub fn write_output_file(path: &Path, data: &[u8]) -> Result<()> {
    let refuse = |why: String| {
        Error::new(ErrorCode::InvalidOutput, format!("`{}` {why}; nothing was written", path.display()))
            .with("path", path.display().to_string())
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(refuse(format!("is in `{}`, which is not an existing directory", dir.display())));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => {}
        Ok(m) => {
            let kind = if m.file_type().is_symlink() {
                "a symbolic link"
            } else if m.is_dir() {
                "a directory"
            } else {
                "not a regular file (a device, FIFO or socket)"
            };
            return Err(refuse(format!("is {kind}; AgentPool writes output only to regular files")));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format_args!("could not inspect `{}`", path.display()), &e)),
    }
    write_atomic(path, data)
}

/// The last `max` bytes of a file as text (from the first whole UTF-8 character on), read by
/// seeking from the end; empty when the file cannot be read.
pub fn read_tail(path: &Path, max: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    if f.take(max).read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let skip = if start > 0 { buf.iter().take(3).take_while(|b| (**b & 0xC0) == 0x80).count() } else { 0 };
    String::from_utf8_lossy(&buf[skip..]).into_owned()
}

/// Appends to a file, creating it (and its parent) when missing.
pub fn append(path: &Path, data: &[u8]) -> Result<()> {
    let run = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        f.write_all(data)
    };
    run().map_err(|e| Error::io(format_args!("could not append to `{}`", path.display()), &e))
}

/// The last `n` characters of `s` (not bytes).
pub fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = count - n;
    match s.char_indices().nth(skip) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// Interprets an environment-style truthy value (`1`, `true`, `yes`, `on`).
pub fn truthy(value: &str) -> bool {
    matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_z_with_micros() {
        let t = time::macros::datetime!(2026-11-25 16:57:40.053228 UTC);
        assert_eq!(format_ts(t), "2026-11-25T16:57:40.053228Z");
        assert_eq!(parse_ts("2026-11-25T16:57:40.053228+00:00"), Some(t));
        assert!(now().ends_with('Z'));
    }

    #[test]
    fn ids() {
        let id = new_session_id();
        assert_eq!(id.len(), 15);
        assert!(is_valid_session_id(&id));
        for bad in ["", "ap_", "../../etc/passwd", "ap_../x", "ap_a/b", "ap_\0", "x_123"] {
            assert!(!is_valid_session_id(bad), "{bad:?}");
        }
        assert!(!is_valid_session_id(&format!("ap_{}", "a".repeat(100))));
    }

    #[test]
    fn tail_chars_counts_chars() {
        assert_eq!(tail_chars("héllo", 3), "llo");
        assert_eq!(tail_chars("ab", 5), "ab");
    }
}
