//! Moving the log start offset forward on request (Kafka's DeleteRecords): the start may then sit
//! inside a segment. It is written to the `log-start-offset` checkpoint (see `checkpoint`) before
//! readers see it, so a crash after the call returns keeps it; reads below it answer
//! OFFSET_OUT_OF_RANGE, and retention deletes the segments that end at or below it.

use crate::checkpoint;
use crate::error::{IoContext, LogError, Result};
use crate::log::Log;

impl Log {
    /// Moves the log start offset to `offset` (a value at or below the current start changes
    /// nothing) and returns the log start after the call. OFFSET_OUT_OF_RANGE past the high
    /// watermark. Durable when it returns. Serialised with appends and retention by `writer`.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64> {
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let (start, high_watermark) = {
            let state = self.state.read();
            (state.log_start_offset, state.high_watermark)
        };
        if offset > high_watermark || offset < 0 {
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset: start, high_watermark });
        }
        if offset <= start {
            return Ok(start);
        }
        // Durable first: a reader never sees a start that a crash could take back.
        checkpoint::write_log_start_offset(&self.dir, offset).ctx(|| format!("write the log start offset in {}", self.dir.display()))?;
        self.state.write().log_start_offset = offset;
        Ok(offset)
    }
}
