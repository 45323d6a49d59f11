//! The two small files that tell a restart how the log was left.
//!
//! `recovery-point` holds the offset below which everything is known to be on disk (fsynced):
//! text `"1\n<offset>\n"` (format version, then the offset), replaced atomically by write-to-temp,
//! fsync, rename, fsync of the directory. Segments at or after the one holding this offset are
//! scanned after an unclean stop, so it never names an offset past the log end: a truncation or a
//! reset (`replica`) rewrites it with the new end before returning.
//!
//! `log-start-offset` holds the offset a DeleteRecords moved the log start to, when that is past the
//! first segment's base (it may sit inside a segment): the same text layout and the same atomic
//! replacement. At open the log starts at the larger of it and the first segment's base (clamped to
//! the high watermark); retention deleting segments only ever moves the start further, so a stale
//! (lower) value is harmless and needs no rewrite. A value past the end is not: offsets appended up
//! to it would drop below the start at the next open. So a truncation that moves the start back
//! and a reset rewrite it, and an open that finds it past the end (recovery cut the tail, or a
//! crash interrupted a reset) rewrites it. Missing or unreadable: the first segment's base.
//!
//! `.clean-shutdown` exists only between a clean close and the next open: if it is missing at open
//! the last run did not close cleanly.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

const RECOVERY_POINT_FILE: &str = "recovery-point";
const LOG_START_OFFSET_FILE: &str = "log-start-offset";
const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
const FORMAT_VERSION: &str = "1";

/// The stored recovery point, or None when missing or unreadable (then everything is scanned).
pub fn read_recovery_point(dir: &Path) -> Option<i64> {
    read_offset(dir, RECOVERY_POINT_FILE)
}

pub fn write_recovery_point(dir: &Path, offset: i64) -> io::Result<()> {
    write_offset(dir, RECOVERY_POINT_FILE, offset)
}

/// The log start offset DeleteRecords stored, or None when there is none (or it is unreadable).
pub fn read_log_start_offset(dir: &Path) -> Option<i64> {
    read_offset(dir, LOG_START_OFFSET_FILE)
}

/// Durable when it returns: a crash after it keeps the new log start.
pub fn write_log_start_offset(dir: &Path, offset: i64) -> io::Result<()> {
    write_offset(dir, LOG_START_OFFSET_FILE, offset)
}

fn read_offset(dir: &Path, name: &str) -> Option<i64> {
    let text = fs::read_to_string(dir.join(name)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != FORMAT_VERSION {
        return None;
    }
    lines.next()?.trim().parse().ok()
}

/// Write to a temporary file, fsync, rename over the old one, fsync the directory: a crash leaves
/// the old file or the new one, never half of one.
fn write_offset(dir: &Path, name: &str, offset: i64) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    write!(file, "{FORMAT_VERSION}\n{offset}\n")?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

pub fn was_clean_shutdown(dir: &Path) -> bool {
    dir.join(CLEAN_SHUTDOWN_FILE).exists()
}

pub fn mark_clean_shutdown(dir: &Path) -> io::Result<()> {
    File::create(dir.join(CLEAN_SHUTDOWN_FILE))?.sync_all()?;
    sync_dir(dir)
}

pub fn clear_clean_shutdown(dir: &Path) -> io::Result<()> {
    match fs::remove_file(dir.join(CLEAN_SHUTDOWN_FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => sync_dir(dir),
    }
}

/// Makes file creations, renames and deletions in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
