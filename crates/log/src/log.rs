//! A partition's log: the ordered set of segments in `<data>/<topic>-<partition>/`, and what is
//! done to it as a whole. This file owns the `Log` struct and its state, append, roll, verify and
//! clean close. The other jobs live beside it as `impl Log` blocks or helpers, the way Kafka's
//! storage layer splits them: `read` (slices of whole batches as file ranges, searches by
//! timestamp), `recovery` (loading the directory,
//! truncating torn tails), `retention` (deleting old segments), `log_start` (DeleteRecords moving
//! the start inside a segment), `replica` (what a follower does: appending the leader's batches
//! as they are, truncating a divergent tail, starting over at the leader's log start; and the
//! leader epoch), `flush` (fsync with group commit, the recovery point, the flusher's bookkeeping).
//!
//! Concurrency (all methods take `&self` and are safe to call from any thread):
//! - Appends are serialised by `writer`; the batch bytes are written without the state lock held
//!   exclusively, then published (segment size, indexes, high watermark) under a short write lock.
//! - Readers (`slice`, `read`, `offset_for_timestamp`) take the state read lock only to look up
//!   segments and indexes, then read files through their own `Arc<File>`; they never see a byte
//!   past the published high watermark, and a segment deleted by retention stays readable for a
//!   slice that holds its file (so does one that a truncation deletes or cuts: see `replica`).
//! - `flush` runs one fsync round at a time; flushes that arrive meanwhile wait for the next round
//!   and share it (group commit). Blocking calls (open, flush, close) belong off the JS event loop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::batch::{stamp, validate_batches, BatchHeader};
use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::{IoContext, LogError, Result};
use crate::flush::GroupCommit;
use crate::flusher;
use crate::recovery;
use crate::segment::Segment;

// Their types moved with their jobs; re-exported so `sluice_log::log::*` paths keep working.
pub use crate::read::{FileRange, Slice};
pub use crate::recovery::OpenReport;
pub use crate::retention::RetentionReport;

/// What an append assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub append_time_ms: i64,
    pub batches: usize,
}

#[derive(Clone, Debug)]
pub struct LogStats {
    pub high_watermark: i64,
    pub log_start_offset: i64,
    pub recovery_point: i64,
    pub segments: usize,
    pub size_bytes: u64,
    /// fsync rounds run, and flush() calls made: their ratio shows group commit at work.
    pub fsync_rounds: u64,
    pub flush_calls: u64,
}


/// The segments and the offsets bounding them; behind `Log::state`.
pub(crate) struct State {
    pub(crate) segments: BTreeMap<i64, Segment>,
    pub(crate) high_watermark: i64,
    pub(crate) log_start_offset: i64,
}

impl State {
    pub(crate) fn active(&self) -> &Segment {
        self.segments.values().next_back().expect("a log always has an active segment")
    }

    pub(crate) fn active_mut(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }
}

// Fields are crate-visible so the `impl Log` blocks in `retention` and `flush` can reach them.
pub struct Log {
    pub(crate) dir: PathBuf,
    /// Replaced whole by `reconfigure` (under `writer`), so an append sees one config throughout.
    pub(crate) config: RwLock<LogConfig>,
    pub(crate) writer: Mutex<()>,
    pub(crate) state: RwLock<State>,
    pub(crate) group_commit: GroupCommit,
    closed: AtomicBool,
}

impl Log {
    /// Opens the log in `dir` (created if missing), recovering it if the last run did not close
    /// cleanly. Blocking: scans segments after an unclean stop.
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Arc<Log>, OpenReport)> {
        config.validate()?;
        let recovery::LoadedSegments { segments, report, recovery_point } = recovery::load(dir, &config)?;
        let high_watermark = segments.values().next_back().unwrap().next_offset();
        // A DeleteRecords may have moved the start inside the first segment; never past the end
        // (recovery may have cut the tail it pointed into).
        let first_base = *segments.keys().next().unwrap();
        let stored_start = checkpoint::read_log_start_offset(dir);
        let log_start_offset = stored_start.map_or(first_base, |o| o.max(first_base)).min(high_watermark);
        if stored_start.is_some_and(|o| o > high_watermark) {
            // Left past the end (recovery cut the tail, or a crash interrupted a reset): rewritten,
            // or offsets appended up to it would fall below the start at the next open.
            checkpoint::write_log_start_offset(dir, log_start_offset).ctx(|| format!("write the log start offset in {}", dir.display()))?;
        }
        let state = State { high_watermark, log_start_offset, segments };
        let log = Arc::new(Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            writer: Mutex::new(()),
            state: RwLock::new(state),
            group_commit: GroupCommit::new(recovery_point),
            closed: AtomicBool::new(false),
        });
        // Make what recovery kept (and cut) durable before anything new is appended.
        log.flush()?;
        checkpoint::clear_clean_shutdown(dir).ctx(|| format!("clear the clean-shutdown marker in {}", dir.display()))?;
        let flush_policy = log.config().flush_interval_ms.is_some() || log.config().flush_interval_bytes.is_some();
        if flush_policy {
            flusher::register(&log);
        }
        Ok((log, report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings the log runs with now (a copy: `reconfigure` may replace them).
    pub fn config(&self) -> LogConfig {
        self.config.read().clone()
    }

    /// Replaces the settings a live log can change: segment size and age, largest batch, retention
    /// bytes and age (Kafka's dynamic topic configs). They apply from the next append, roll or
    /// retention pass; segments already written keep their size. The index layout and the flush
    /// policy are fixed while the log is open, and the leader epoch moves only by
    /// `set_leader_epoch`: a change to them is refused (pass the log's current epoch).
    pub fn reconfigure(&self, next: LogConfig) -> Result<()> {
        next.validate()?;
        let _writer = self.writer.lock();
        let mut config = self.config.write();
        let fixed = |c: &LogConfig| (c.index_interval_bytes, c.max_index_bytes, c.flush_interval_ms, c.flush_interval_bytes, c.leader_epoch);
        if fixed(&config) != fixed(&next) {
            return Err(LogError::InvalidConfig(
                "index sizes and flush policy cannot change while the log is open; the leader epoch moves only by setLeaderEpoch".into(),
            ));
        }
        *config = next;
        Ok(())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Takes the log offline after a failure that may have left memory and disk apart: every call
    /// from now on fails with LOG_CLOSED (no clean-shutdown marker is written); a reopen loads and
    /// recovers what is on disk.
    pub(crate) fn go_offline(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn ensure_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(LogError::Closed)
        } else {
            Ok(())
        }
    }

    /// The offset the next append gets; readers see offsets below it.
    pub fn high_watermark(&self) -> i64 {
        self.state.read().high_watermark
    }

    pub fn log_start_offset(&self) -> i64 {
        self.state.read().log_start_offset
    }

    /// Validates `batches` (one or more whole RecordBatch v2), stamps their base offsets and leader
    /// epoch in place, and appends them, all or nothing. `now_ms` is the append time (and the
    /// clock for nothing else). On any error no byte is written and the log is unchanged.
    pub fn append(&self, batches: &mut [u8], now_ms: i64) -> Result<AppendInfo> {
        // Validated (CRCs) before taking the writer lock, so appends to one log check in parallel;
        // a batch racing a reconfigure is held to the limit it was read under.
        let max_batch_bytes = self.config.read().max_batch_bytes;
        let headers = validate_batches(batches, max_batch_bytes)?;
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let leader_epoch = self.roll_if_needed(&headers, batches.len() as u64)?.leader_epoch;
        let base_offset = self.state.read().high_watermark;
        let mut next = base_offset;
        let mut stamped = Vec::with_capacity(headers.len());
        let mut at = 0usize;
        for header in &headers {
            stamp(&mut batches[at..at + header.size_bytes], next, leader_epoch);
            stamped.push(BatchHeader { base_offset: next, ..*header });
            next = stamped.last().unwrap().next_offset();
            at += header.size_bytes;
        }
        self.write_and_publish(batches, &stamped)?;
        Ok(AppendInfo { base_offset, last_offset: next - 1, append_time_ms: now_ms, batches: headers.len() })
    }

    /// Rolls when validated batches of `bytes` in all must not go into the active segment; returns
    /// the config the append runs under. Caller holds `writer`.
    pub(crate) fn roll_if_needed(&self, headers: &[BatchHeader], bytes: u64) -> Result<LogConfig> {
        let config = self.config.read().clone();
        if self.state.read().active().should_roll(headers, bytes, &config) {
            self.roll()?;
        }
        Ok(config)
    }

    /// Writes validated batches that carry their offsets (`headers`, continuing from the high
    /// watermark) at the end of the active segment, publishes them and counts them as unflushed.
    /// Caller holds `writer`.
    pub(crate) fn write_and_publish(&self, batches: &[u8], headers: &[BatchHeader]) -> Result<()> {
        // Write under the read lock: readers go on (they never look past the published size);
        // only the publication below excludes them, briefly.
        self.state.read().active().write_at_end(batches)?;
        {
            let mut state = self.state.write();
            state.active_mut().publish(headers);
            state.high_watermark = state.active().next_offset();
        }
        self.note_unflushed(batches.len() as u64);
        Ok(())
    }

    /// Seals the active segment and starts a new one at the high watermark. Caller holds `writer`.
    fn roll(&self) -> Result<()> {
        let next = self.state.read().high_watermark;
        let segment = Segment::create(&self.dir, next, &self.config.read())?;
        {
            let mut state = self.state.write();
            state.active_mut().seal()?;
            state.segments.insert(next, segment);
        }
        checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))
    }

    /// Flushes, seals the active segment, writes the recovery point and the clean-shutdown
    /// marker. Further calls fail with `LOG_CLOSED`. Idempotent.
    pub fn close(&self) -> Result<()> {
        let _writer = self.writer.lock();
        if self.is_closed() {
            // Already closed, or taken offline by an I/O error: its files go now either way.
            self.release_segments();
            return Ok(());
        }
        let point = self.flush()?;
        self.state.write().active_mut().seal()?;
        self.closed.store(true, Ordering::Release);
        let marked = checkpoint::write_recovery_point(&self.dir, point)
            .ctx(|| format!("write the recovery point in {}", self.dir.display()))
            .and_then(|()| checkpoint::mark_clean_shutdown(&self.dir).ctx(|| format!("mark {} clean", self.dir.display())));
        // Closed means the files are let go now, not when the last handle to this Log (a JS object
        // the garbage collector frees some time later, or never while a caller holds it) is
        // dropped: an embedded broker's close() must leave the process with the fds it had. A slice
        // taken before keeps its own segment files open until it is done with them. (Also when the
        // marker could not be written: the next open then recovers the log as after a crash.)
        self.release_segments();
        marked
    }

    fn release_segments(&self) {
        let released = std::mem::take(&mut self.state.write().segments);
        drop(released);
    }

    pub fn stats(&self) -> LogStats {
        let state = self.state.read();
        LogStats {
            high_watermark: state.high_watermark,
            log_start_offset: state.log_start_offset,
            recovery_point: self.group_commit.recovery_point(),
            segments: state.segments.len(),
            size_bytes: state.size_bytes(),
            fsync_rounds: self.group_commit.fsync_rounds(),
            flush_calls: self.group_commit.flush_calls(),
        }
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_bases(&self) -> Vec<i64> {
        self.state.read().segments.keys().copied().collect()
    }

    /// The index entries of one segment (tests compare rebuilt indexes with the originals).
    pub fn index_entries(&self, base_offset: i64) -> Option<(Vec<(i64, u32)>, Vec<(i64, i64)>)> {
        self.state.read().segments.get(&base_offset).map(Segment::index_entries)
    }

    /// Checks every segment against its bytes and indexes (`Segment::verify`) and that each
    /// segment starts where the one before it ends. Empty when the log is consistent.
    pub fn verify(&self) -> Vec<String> {
        let state = self.state.read();
        let mut problems = Vec::new();
        let mut expected: Option<i64> = None;
        for (base, segment) in &state.segments {
            if expected.is_some_and(|e| e != *base) {
                problems.push(format!("segment {base} follows a segment that ends at {}", expected.unwrap()));
            }
            problems.extend(segment.verify());
            expected = Some(segment.next_offset());
        }
        if expected.is_some_and(|e| e != state.high_watermark) {
            problems.push(format!("the last segment ends at {}, the high watermark is {}", expected.unwrap(), state.high_watermark));
        }
        let first_base = state.segments.keys().next().copied().unwrap_or(state.log_start_offset);
        if state.log_start_offset < first_base || state.log_start_offset > state.high_watermark {
            problems.push(format!(
                "the log start {} is outside [first segment {first_base}, high watermark {}]",
                state.log_start_offset, state.high_watermark
            ));
        }
        problems
    }
}
