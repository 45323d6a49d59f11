//! The two small files that tell a restart how the log was left.
//!
//! `recovery-point` holds the offset below which everything is known to be on disk (fsynced):
//! text `"1\n<offset>\n"` (format version, then the offset), replaced atomically by write-to-temp,
//! fsync, rename, fsync of the directory. Segments at or after the one holding this offset are
//! scanned after an unclean stop.
//!
//! `.clean-shutdown` exists only between a clean close and the next open: if it is missing at open
//! the last run did not close cleanly.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

const RECOVERY_POINT_FILE: &str = "recovery-point";
const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";
const FORMAT_VERSION: &str = "1";

/// The stored recovery point, or None when missing or unreadable (then everything is scanned).
pub fn read_recovery_point(dir: &Path) -> Option<i64> {
    let text = fs::read_to_string(dir.join(RECOVERY_POINT_FILE)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != FORMAT_VERSION {
        return None;
    }
    lines.next()?.trim().parse().ok()
}

pub fn write_recovery_point(dir: &Path, offset: i64) -> io::Result<()> {
    let tmp = dir.join(format!("{RECOVERY_POINT_FILE}.tmp"));
    let mut file = File::create(&tmp)?;
    write!(file, "{FORMAT_VERSION}\n{offset}\n")?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(RECOVERY_POINT_FILE))?;
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
