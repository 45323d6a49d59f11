//! Errors of the storage core. Each carries a stable code (Kafka's name where Kafka has one) that the
//! binding passes to JS unchanged as `error.code`; the message says what was wrong for a human.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum LogError {
    /// A batch failed a structural check: bounds, magic, CRC. Nothing was written.
    CorruptMessage(String),
    /// A batch is well formed but its content is not acceptable (record count, empty append).
    InvalidRecord(String),
    /// A batch is larger than `maxBatchBytes`.
    MessageTooLarge(String),
    /// A replica append whose batches do not start at the log end or do not follow each other.
    /// Nothing was written.
    OffsetOutOfSequence(String),
    /// A read asked for an offset outside `[logStartOffset, highWatermark]`.
    OffsetOutOfRange { offset: i64, log_start_offset: i64, high_watermark: i64 },
    /// The disk said no (full, I/O error, permissions). Nothing partial is visible to readers.
    Storage(String, io::Error),
    /// A configuration value is out of range.
    InvalidConfig(String),
    /// The log was closed; no further calls are served.
    Closed,
    /// Another process holds the data directory's lock (`holder`: the pid it wrote).
    Locked { path: std::path::PathBuf, holder: String },
}

pub type Result<T> = std::result::Result<T, LogError>;

impl LogError {
    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            LogError::CorruptMessage(_) => "CORRUPT_MESSAGE",
            LogError::InvalidRecord(_) => "INVALID_RECORD",
            LogError::MessageTooLarge(_) => "MESSAGE_TOO_LARGE",
            LogError::OffsetOutOfSequence(_) => "OFFSET_OUT_OF_SEQUENCE",
            LogError::OffsetOutOfRange { .. } => "OFFSET_OUT_OF_RANGE",
            LogError::Storage(..) => "KAFKA_STORAGE_ERROR",
            LogError::InvalidConfig(_) => "INVALID_CONFIG",
            LogError::Closed => "LOG_CLOSED",
            LogError::Locked { .. } => "DATA_DIR_LOCKED",
        }
    }

    /// Wraps an I/O error with what the log was doing when it happened.
    pub fn storage(context: impl Into<String>, err: io::Error) -> LogError {
        LogError::Storage(context.into(), err)
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::CorruptMessage(m)
            | LogError::InvalidRecord(m)
            | LogError::MessageTooLarge(m)
            | LogError::OffsetOutOfSequence(m)
            | LogError::InvalidConfig(m) => f.write_str(m),
            LogError::OffsetOutOfRange { offset, log_start_offset, high_watermark } => write!(
                f,
                "offset {offset} is outside the log [{log_start_offset}, {high_watermark}]"
            ),
            LogError::Storage(context, err) => write!(f, "{context}: {err}"),
            LogError::Closed => f.write_str("the log is closed"),
            LogError::Locked { path, holder } => write!(
                f,
                "{} is locked by another process (pid {}); is another broker using this data directory?",
                path.display(),
                if holder.is_empty() { "unknown" } else { holder }
            ),
        }
    }
}

impl std::error::Error for LogError {}

/// Adds context to I/O results: `file.sync_data().ctx("fsync 0000.log")?`.
pub(crate) trait IoContext<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| LogError::Storage(context(), e))
    }
}
