//! Sluice's storage core: a partition's append-only log of Kafka RecordBatch v2 batches in
//! segments with memory-mapped offset and time indexes, crash recovery, retention and group-commit
//! flush. Pure Rust, no Node: the napi binding (`crates/node`) only converts types and schedules work.
//!
//! Module map: `batch` (header parse/validate/stamp, CRC-32C), `index` (mmap'd index files),
//! `file_records` (header scans over a log file), `segment` (one log file + its indexes),
//! `log` (the set of segments: append, roll), and beside it `read` (slices and searches by time), `recovery` (loading and
//! repairing a directory on open), `retention` (deleting old segments), `log_start` (DeleteRecords: moving the start forward),
//! `replica` (a follower's appends of the leader's batches, truncation, reset; the leader epoch), `flush` (fsync with group
//! commit), `compression` (a batch's records decompressed on request), `checkpoint` (recovery point, clean-shutdown marker), `flusher` (the background flush
//! thread), `fsync_latency` (how long fsync rounds take, process-wide), `lock` (the data directory's lock), `config`, `error`.

pub mod batch;
pub mod checkpoint;
pub mod compression;
pub mod config;
pub mod error;
pub mod file_records;
mod flush;
mod flusher;
pub mod fsync_latency;
pub mod index;
pub mod lock;
pub mod log;
mod log_start;
mod read;
mod recovery;
mod replica;
mod retention;
pub mod segment;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod log_tests;
#[cfg(test)]
mod replica_tests;

pub use batch::{crc32c_append, validate_batches, BatchHeader};
pub use config::LogConfig;
pub use error::{LogError, Result};
pub use lock::DirLock;
pub use log::{AppendInfo, FileRange, Log, LogStats, OpenReport, RetentionReport, Slice};
pub use segment::SegmentRecovery;
