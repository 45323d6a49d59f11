//! Per-log settings, with Kafka's defaults where Kafka has one. Units are in the names.

use crate::batch::HEADER_BYTES;
use crate::error::{LogError, Result};
use crate::index::{OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES};

#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Roll to a new segment before an append would take the active one past this size.
    pub segment_bytes: u64,
    /// Roll when a batch's maxTimestamp is this far past the first batch of the active segment.
    pub segment_ms: i64,
    /// Bytes of log between two offset-index entries.
    pub index_interval_bytes: u64,
    /// Preallocated size of each index file; a full index rolls the segment.
    pub max_index_bytes: usize,
    /// Largest accepted batch, header included.
    pub max_batch_bytes: usize,
    /// Delete old segments while the log is larger than this; -1 for no limit.
    pub retention_bytes: i64,
    /// Delete segments whose newest batch is older than this; -1 for no limit.
    pub retention_ms: i64,
    /// Background flush when the oldest unflushed append is this old; None for none.
    pub flush_interval_ms: Option<u64>,
    /// Background flush when this many bytes are unflushed; None for none.
    pub flush_interval_bytes: Option<u64>,
    /// Stamped into every appended batch's partitionLeaderEpoch.
    pub leader_epoch: i32,
}

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 7 * DAY_MS,
            index_interval_bytes: 4096,
            max_index_bytes: 10 << 20,
            max_batch_bytes: 8 << 20,
            retention_bytes: -1,
            retention_ms: 7 * DAY_MS,
            flush_interval_ms: None,
            flush_interval_bytes: None,
            leader_epoch: 0,
        }
    }
}

impl LogConfig {
    /// Checks ranges: positions in the offset index are u32, so a segment stays under 2 GiB.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(LogError::InvalidConfig(m));
        if self.segment_bytes < HEADER_BYTES as u64 || self.segment_bytes > i32::MAX as u64 {
            return fail(format!("segmentBytes {} must be in [{HEADER_BYTES}, {}]", self.segment_bytes, i32::MAX));
        }
        if self.segment_ms <= 0 {
            return fail(format!("segmentMs {} must be positive", self.segment_ms));
        }
        if self.max_index_bytes < TIME_ENTRY_BYTES.max(OFFSET_ENTRY_BYTES) {
            return fail(format!("maxIndexBytes {} holds no index entry", self.max_index_bytes));
        }
        if self.max_batch_bytes < HEADER_BYTES || self.max_batch_bytes > i32::MAX as usize {
            return fail(format!("maxBatchBytes {} must be in [{HEADER_BYTES}, {}]", self.max_batch_bytes, i32::MAX));
        }
        if self.retention_bytes < -1 || self.retention_ms < -1 {
            return fail("retentionBytes and retentionMs must be -1 (no limit) or >= 0".into());
        }
        if self.flush_interval_ms == Some(0) || self.flush_interval_bytes == Some(0) {
            return fail("flushIntervalMs and flushIntervalBytes must be positive when set".into());
        }
        Ok(())
    }
}
