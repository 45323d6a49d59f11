//! Retention: deleting whole segments from the front of a log once it is over `retentionBytes`,
//! their newest batch is older than `retentionMs`, or they end at or below a log start offset that
//! DeleteRecords moved forward; deleting by size or age moves the log start offset forward.
//! Readers holding a deleted segment's file keep reading it; the active segment is never deleted.

use std::fs;
use std::path::Path;

use crate::checkpoint;
use crate::error::{IoContext, Result};
use crate::log::Log;

#[derive(Clone, Debug, Default)]
pub struct RetentionReport {
    pub deleted_segments: Vec<i64>,
    pub deleted_bytes: u64,
    pub log_start_offset: i64,
}

impl Log {
    /// Deletes whole segments from the front while the log exceeds `retentionBytes`, their newest
    /// batch is older than `retentionMs` at `now_ms`, or they end at or below the log start offset.
    /// The active segment is never deleted.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport> {
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let (removed, log_start_offset) = {
            let mut state = self.state.write();
            let config = self.config.read();
            let mut total = state.size_bytes();
            let mut removed = Vec::new();
            while state.segments.len() > 1 {
                let first = state.segments.values().next().unwrap();
                let by_bytes = config.retention_bytes >= 0 && total - first.size() >= config.retention_bytes as u64;
                let newest = if first.max_timestamp() >= 0 { first.max_timestamp() } else { modified_ms(first.log_path()) };
                let by_age = config.retention_ms >= 0 && now_ms - newest > config.retention_ms;
                // Wholly below a start DeleteRecords moved forward: nothing in it can be read.
                let by_start = first.next_offset() <= state.log_start_offset;
                if !by_bytes && !by_age && !by_start {
                    break;
                }
                total -= first.size();
                let base = first.base_offset;
                removed.push(state.segments.remove(&base).unwrap());
            }
            state.log_start_offset = state.log_start_offset.max(*state.segments.keys().next().unwrap());
            (removed, state.log_start_offset)
        };
        // Files are deleted after the state lock is released: readers are not held up by unlinks,
        // and a slice taken before the removal still holds the file open.
        let mut report = RetentionReport { log_start_offset, ..RetentionReport::default() };
        for segment in removed {
            segment.delete_files().ctx(|| format!("delete segment {}", segment.log_path().display()))?;
            report.deleted_bytes += segment.size();
            report.deleted_segments.push(segment.base_offset);
        }
        if !report.deleted_segments.is_empty() {
            checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))?;
        }
        Ok(report)
    }
}

/// The file's modification time in ms since the epoch (0 when unknown): the age of a segment
/// whose batches give no timestamp to go by.
fn modified_ms(path: &Path) -> i64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}
