//! A partition's log: the ordered set of segments in `<data>/<topic>-<partition>/`, and everything
//! done to it as a whole: open with recovery, append, roll, slice/read, search by timestamp,
//! retention, flush with group commit, clean close.
//!
//! Concurrency (all methods take `&self` and are safe to call from any thread):
//! - Appends are serialised by `writer`; the batch bytes are written without the state lock held
//!   exclusively, then published (segment size, indexes, high watermark) under a short write lock.
//! - Readers (`slice`, `read`, `offset_for_timestamp`) take the state read lock only to look up
//!   segments and indexes, then read files through their own `Arc<File>`; they never see a byte
//!   past the published high watermark, and a segment deleted by retention stays readable for a
//!   slice that holds its file.
//! - `flush` runs one fsync round at a time; flushes that arrive meanwhile wait for the next round
//!   and share it (group commit). Blocking calls (open, flush, close) belong off the JS event loop.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

use crate::batch::{stamp, validate_batches, BatchHeader};
use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::{IoContext, LogError, Result};
use crate::file_records::{read_fully_at, HeaderScanner};
use crate::flusher;
use crate::segment::{Segment, SegmentRecovery, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

/// What an append assigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    pub append_time_ms: i64,
    pub batches: usize,
}

/// A byte range of one segment's log file that holds whole batches.
#[derive(Clone, Debug)]
pub struct FileRange {
    pub file: Arc<File>,
    pub path: PathBuf,
    pub segment_base_offset: i64,
    pub position: u64,
    pub bytes: u64,
    /// Base offset of the first batch in the range, and the offset after its last batch.
    pub first_offset: i64,
    pub next_offset: i64,
}

/// The answer to a fetch: file ranges to send, in order, plus the log's bounds when it was taken.
#[derive(Clone, Debug)]
pub struct Slice {
    pub ranges: Vec<FileRange>,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

impl Slice {
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.bytes).sum()
    }

    /// Copies the ranges' bytes into one buffer.
    pub fn read_all(&self) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.bytes() as usize];
        let mut at = 0usize;
        for r in &self.ranges {
            let want = r.bytes as usize;
            let got = read_fully_at(&r.file, &mut out[at..at + want], r.position)
                .ctx(|| format!("read {}", r.path.display()))?;
            if got != want {
                return Err(LogError::storage(
                    format!("{} is shorter than its published size", r.path.display()),
                    std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                ));
            }
            at += want;
        }
        Ok(out)
    }
}

/// What opening found and did.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    pub clean_shutdown: bool,
    /// Segments that were scanned batch by batch (after an unclean stop, or for a bad index).
    pub recovered: Vec<SegmentRecovery>,
    /// Segments removed because they came after a truncation or broke offset continuity.
    pub deleted_segments: Vec<i64>,
}

impl OpenReport {
    pub fn truncated_bytes(&self) -> u64 {
        self.recovered.iter().map(|r| r.truncated_bytes).sum()
    }
}

#[derive(Clone, Debug, Default)]
pub struct RetentionReport {
    pub deleted_segments: Vec<i64>,
    pub deleted_bytes: u64,
    pub log_start_offset: i64,
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

struct State {
    segments: BTreeMap<i64, Segment>,
    high_watermark: i64,
    log_start_offset: i64,
}

impl State {
    fn active(&self) -> &Segment {
        self.segments.values().next_back().expect("a log always has an active segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }

    fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }
}

struct FlushState {
    /// Everything below this offset is fsynced.
    recovery_point: i64,
    in_progress: bool,
    /// The recovery point last written to the checkpoint file.
    checkpointed: i64,
}

pub struct Log {
    dir: PathBuf,
    /// Replaced whole by `reconfigure` (under `writer`), so an append sees one config throughout.
    config: RwLock<LogConfig>,
    writer: Mutex<()>,
    state: RwLock<State>,
    flush: Mutex<FlushState>,
    flush_done: Condvar,
    closed: AtomicBool,
    unflushed_bytes: AtomicU64,
    /// Flusher clock (µs) of the oldest unflushed append; 0 when nothing is unflushed.
    unflushed_since_us: AtomicU64,
    fsync_rounds: AtomicU64,
    flush_calls: AtomicU64,
}

impl Log {
    /// Opens the log in `dir` (created if missing), recovering it if the last run did not close
    /// cleanly. Blocking: scans segments after an unclean stop.
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Arc<Log>, OpenReport)> {
        config.validate()?;
        fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
        let bases = list_segments(dir)?;
        let clean = checkpoint::was_clean_shutdown(dir);
        // After a clean close nothing is scanned (only indexes that fail their check are rebuilt).
        // After an unclean stop, scan from the segment holding the recovery point: everything
        // before it was fsynced. No checkpoint: scan everything.
        let scan_from = if clean {
            i64::MAX
        } else {
            let recovery_point = checkpoint::read_recovery_point(dir).unwrap_or(i64::MIN);
            bases.iter().rev().copied().find(|b| *b <= recovery_point).unwrap_or(i64::MIN)
        };

        let mut report = OpenReport { clean_shutdown: clean, ..OpenReport::default() };
        let mut segments: BTreeMap<i64, Segment> = BTreeMap::new();
        let mut cut = false;
        for (i, &base) in bases.iter().enumerate() {
            let expected = segments.values().next_back().map(Segment::next_offset);
            if cut || expected.is_some_and(|e| e != base) {
                // After a truncation, or past a gap in offsets, nothing further can be served.
                cut = true;
                report.deleted_segments.push(base);
                delete_segment_files(dir, base)?;
                continue;
            }
            let last = i + 1 == bases.len();
            let (mut segment, indexes_exist) = Segment::open(dir, base, &config, last)?;
            let mut scan = base >= scan_from || !indexes_exist;
            if !scan && !segment.load()? {
                scan = true;
            }
            if scan {
                let recovery = segment.recover(config.max_index_bytes)?;
                cut = recovery.truncated_bytes > 0;
                report.recovered.push(recovery);
            }
            segments.insert(base, segment);
        }
        if segments.is_empty() {
            segments.insert(0, Segment::create(dir, 0, &config)?);
        }
        // Every segment but the last is sealed; the last takes appends.
        let last_base = *segments.keys().next_back().unwrap();
        for (base, segment) in segments.iter_mut() {
            if *base == last_base {
                segment.unseal(config.max_index_bytes)?;
            } else {
                segment.seal()?;
            }
        }
        let state = State {
            high_watermark: segments.values().next_back().unwrap().next_offset(),
            log_start_offset: *segments.keys().next().unwrap(),
            segments,
        };
        // Segments before the first scanned one were fsynced before the stop; the scanned ones
        // may hold page-cache-only bytes of the last run, so the flush below covers them.
        let start_point = report.recovered.iter().map(|r| r.base_offset).min().unwrap_or(state.high_watermark);
        if !report.deleted_segments.is_empty() {
            checkpoint::sync_dir(dir).ctx(|| format!("fsync {}", dir.display()))?;
        }
        let log = Arc::new(Log {
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            writer: Mutex::new(()),
            state: RwLock::new(state),
            flush: Mutex::new(FlushState { recovery_point: start_point, in_progress: false, checkpointed: i64::MIN }),
            flush_done: Condvar::new(),
            closed: AtomicBool::new(false),
            unflushed_bytes: AtomicU64::new(0),
            unflushed_since_us: AtomicU64::new(0),
            fsync_rounds: AtomicU64::new(0),
            flush_calls: AtomicU64::new(0),
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
    /// retention pass; segments already written keep their size. The index layout, the flush
    /// policy and the leader epoch are fixed while the log is open: a change to them is refused.
    pub fn reconfigure(&self, next: LogConfig) -> Result<()> {
        next.validate()?;
        let _writer = self.writer.lock();
        let mut config = self.config.write();
        let fixed = |c: &LogConfig| (c.index_interval_bytes, c.max_index_bytes, c.flush_interval_ms, c.flush_interval_bytes, c.leader_epoch);
        if fixed(&config) != fixed(&next) {
            return Err(LogError::InvalidConfig("index sizes, flush policy and leader epoch cannot change while the log is open".into()));
        }
        *config = next;
        Ok(())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn ensure_open(&self) -> Result<()> {
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
        let config = self.config.read().clone();
        self.ensure_open()?;
        let bytes = batches.len() as u64;
        if self.state.read().active().should_roll(&headers, bytes, &config) {
            self.roll()?;
        }
        let base_offset = self.state.read().high_watermark;
        let mut next = base_offset;
        let mut stamped = Vec::with_capacity(headers.len());
        let mut at = 0usize;
        for header in &headers {
            stamp(&mut batches[at..at + header.size_bytes], next, config.leader_epoch);
            stamped.push(BatchHeader { base_offset: next, ..*header });
            next = stamped.last().unwrap().next_offset();
            at += header.size_bytes;
        }
        // Write under the read lock: readers go on (they never look past the published size);
        // only the publication below excludes them, briefly.
        self.state.read().active().write_at_end(batches)?;
        {
            let mut state = self.state.write();
            state.active_mut().publish(&stamped);
            state.high_watermark = next;
        }
        self.note_unflushed(bytes);
        Ok(AppendInfo { base_offset, last_offset: next - 1, append_time_ms: now_ms, batches: headers.len() })
    }

    fn note_unflushed(&self, bytes: u64) {
        if self.unflushed_bytes.fetch_add(bytes, Ordering::AcqRel) == 0 {
            self.unflushed_since_us.store(flusher::now_us(), Ordering::Release);
        }
        if self.config.read().flush_interval_bytes.is_some_and(|limit| self.unflushed_bytes.load(Ordering::Acquire) >= limit) {
            flusher::wake();
        }
    }

    /// For the flusher: None when nothing is unflushed or there is no policy, Some(0) when a flush
    /// is due now, else Some(µs until the time policy makes it due).
    pub(crate) fn flush_due_in_us(&self, now_us: u64) -> Option<u64> {
        let bytes = self.unflushed_bytes.load(Ordering::Acquire);
        if bytes == 0 {
            return None;
        }
        let config = self.config.read();
        if config.flush_interval_bytes.is_some_and(|limit| bytes >= limit) {
            return Some(0);
        }
        let interval_us = config.flush_interval_ms? * 1000;
        let since = self.unflushed_since_us.load(Ordering::Acquire);
        Some((since + interval_us).saturating_sub(now_us))
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

    /// The file ranges that answer a fetch at `offset`: from the start of the batch holding
    /// `offset`, whole batches, at most `max_bytes` in total but always at least one batch,
    /// below the high watermark. An offset equal to the high watermark gives no ranges.
    /// `OFFSET_OUT_OF_RANGE` outside `[logStartOffset, highWatermark]`.
    pub fn slice(&self, offset: i64, max_bytes: u64) -> Result<Slice> {
        struct View {
            file: Arc<File>,
            path: PathBuf,
            base_offset: i64,
            size: u64,
            scan_from: u64,
            /// An indexed batch (base offset, position) near the budget's end, to skip to.
            skip_to: Option<(i64, u64)>,
        }
        let (high_watermark, log_start_offset, views) = {
            let state = self.state.read();
            self.ensure_open()?;
            let (hw, start) = (state.high_watermark, state.log_start_offset);
            if offset < start || offset > hw {
                return Err(LogError::OffsetOutOfRange { offset, log_start_offset: start, high_watermark: hw });
            }
            let mut views = Vec::new();
            let mut reach = 0u64;
            let floor = state.segments.range(..=offset).next_back().map_or(start, |(b, _)| *b);
            for segment in state.segments.range(floor..).map(|(_, s)| s) {
                if segment.next_offset() <= offset {
                    continue;
                }
                let scan_from = if views.is_empty() { segment.lookup(offset) } else { 0 };
                let skip_to = segment.lookup_by_position(scan_from + max_bytes).filter(|(_, p)| *p > scan_from);
                reach += segment.size() - scan_from;
                views.push(View {
                    file: segment.log_file().clone(),
                    path: segment.log_path().to_path_buf(),
                    base_offset: segment.base_offset,
                    size: segment.size(),
                    scan_from,
                    skip_to,
                });
                if reach >= max_bytes {
                    break;
                }
            }
            (hw, start, views)
        };

        let mut ranges: Vec<FileRange> = Vec::new();
        let mut budget = max_bytes;
        for view in views {
            let mut scanner = HeaderScanner::new(&view.file, view.scan_from, view.size);
            // Find the batch that holds `offset` (only in the first segment it can be earlier).
            let mut first = None;
            while let Some(h) = scanner.peek()? {
                if h.next_offset() > offset {
                    first = Some(h);
                    break;
                }
                scanner.advance(&h);
            }
            let Some(first) = first else { continue };
            let start = scanner.position();
            let mut next_offset = first.next_offset();
            let mut full = false;
            // Batches wholly between `start` and an index entry within budget need no header reads.
            if let Some((entry_offset, p)) = view.skip_to.filter(|(_, p)| *p > start && *p - start <= budget) {
                scanner = HeaderScanner::new(&view.file, p, view.size);
                next_offset = entry_offset;
            }
            while let Some(h) = scanner.peek()? {
                let end = scanner.position() + h.size_bytes as u64;
                let first_batch_of_slice = ranges.is_empty() && scanner.position() == start;
                if end - start > budget && !first_batch_of_slice {
                    full = true;
                    break;
                }
                next_offset = h.next_offset();
                scanner.advance(&h);
            }
            let bytes = scanner.position() - start;
            if bytes == 0 {
                break;
            }
            budget = budget.saturating_sub(bytes);
            ranges.push(FileRange {
                file: view.file,
                path: view.path,
                segment_base_offset: view.base_offset,
                position: start,
                bytes,
                first_offset: first.base_offset,
                next_offset,
            });
            if full || budget == 0 {
                break;
            }
        }
        Ok(Slice { ranges, high_watermark, log_start_offset })
    }

    /// The bytes `slice(offset, max_bytes)` names, copied into a buffer, with the slice.
    pub fn read(&self, offset: i64, max_bytes: u64) -> Result<(Vec<u8>, Slice)> {
        let slice = self.slice(offset, max_bytes)?;
        Ok((slice.read_all()?, slice))
    }

    /// The base offset of the first batch whose maxTimestamp is >= `timestamp`, or None when
    /// every batch is older. Batch granularity: the core never decodes records.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<i64>> {
        let candidates: Vec<(Arc<File>, u64, u64)> = {
            let state = self.state.read();
            self.ensure_open()?;
            state
                .segments
                .values()
                .filter(|s| s.max_timestamp() >= timestamp)
                .map(|s| (s.log_file().clone(), s.lookup_timestamp(timestamp), s.size()))
                .collect()
        };
        for (file, from, size) in candidates {
            let mut scanner = HeaderScanner::new(&file, from, size);
            while let Some((_, h)) = scanner.next_batch()? {
                if h.max_timestamp >= timestamp {
                    return Ok(Some(h.base_offset));
                }
            }
        }
        Ok(None)
    }

    /// Deletes whole segments from the front while the log exceeds `retentionBytes` or their
    /// newest batch is older than `retentionMs` at `now_ms`. The active segment is never deleted.
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
                if !by_bytes && !by_age {
                    break;
                }
                total -= first.size();
                let base = first.base_offset;
                removed.push(state.segments.remove(&base).unwrap());
            }
            state.log_start_offset = *state.segments.keys().next().unwrap();
            (removed, state.log_start_offset)
        };
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

    /// Makes every append that returned before this call durable (fsync), and returns the new
    /// recovery point. Concurrent calls share fsync rounds: a call that finds a round running
    /// waits for it and runs (or joins) the next only if that round did not already cover it.
    pub fn flush(&self) -> Result<i64> {
        self.flush_calls.fetch_add(1, Ordering::Relaxed);
        let target = self.high_watermark();
        let mut flush = self.flush.lock();
        loop {
            if flush.recovery_point >= target {
                return Ok(flush.recovery_point);
            }
            if !flush.in_progress {
                break;
            }
            self.flush_done.wait(&mut flush);
        }
        flush.in_progress = true;
        let from = flush.recovery_point;
        drop(flush);

        let result = self.fsync_round(from);
        let mut flush = self.flush.lock();
        flush.in_progress = false;
        self.flush_done.notify_all();
        let (point, unflushed) = result?;
        flush.recovery_point = flush.recovery_point.max(point);
        if self.unflushed_bytes.fetch_sub(unflushed, Ordering::AcqRel) == unflushed {
            self.unflushed_since_us.store(0, Ordering::Release);
        }
        let checkpoint_due = self.segment_of(point) != self.segment_of(flush.checkpointed);
        if checkpoint_due {
            flush.checkpointed = point;
        }
        drop(flush);
        if checkpoint_due {
            checkpoint::write_recovery_point(&self.dir, point).ctx(|| format!("write the recovery point in {}", self.dir.display()))?;
        }
        Ok(point)
    }

    /// fsyncs the segments holding offsets at or after `from`; returns the high watermark they
    /// cover and the unflushed byte count the round accounts for.
    fn fsync_round(&self, from: i64) -> Result<(i64, u64)> {
        let unflushed = self.unflushed_bytes.load(Ordering::Acquire);
        let (point, files) = {
            let state = self.state.read();
            let active = state.active().base_offset;
            let files: Vec<(Arc<File>, PathBuf)> = state
                .segments
                .values()
                .filter(|s| s.next_offset() > from || s.base_offset == active)
                .flat_map(|s| s.sync_handles(s.base_offset != active).into_iter().map(|f| (f, s.log_path().to_path_buf())))
                .collect();
            (state.high_watermark, files)
        };
        for (file, path) in files {
            file.sync_data().ctx(|| format!("fsync {}", path.display()))?;
        }
        self.fsync_rounds.fetch_add(1, Ordering::Relaxed);
        Ok((point, unflushed))
    }

    /// Base offset of the segment that holds `offset` (for deciding when to checkpoint).
    fn segment_of(&self, offset: i64) -> Option<i64> {
        self.state.read().segments.range(..=offset).next_back().map(|(b, _)| *b)
    }

    /// Flushes, seals the active segment, writes the recovery point and the clean-shutdown
    /// marker. Further calls fail with `LOG_CLOSED`. Idempotent.
    pub fn close(&self) -> Result<()> {
        let _writer = self.writer.lock();
        if self.is_closed() {
            return Ok(());
        }
        let point = self.flush()?;
        self.state.write().active_mut().seal()?;
        self.closed.store(true, Ordering::Release);
        checkpoint::write_recovery_point(&self.dir, point).ctx(|| format!("write the recovery point in {}", self.dir.display()))?;
        checkpoint::mark_clean_shutdown(&self.dir).ctx(|| format!("mark {} clean", self.dir.display()))
    }

    pub fn stats(&self) -> LogStats {
        let state = self.state.read();
        LogStats {
            high_watermark: state.high_watermark,
            log_start_offset: state.log_start_offset,
            recovery_point: self.flush.lock().recovery_point,
            segments: state.segments.len(),
            size_bytes: state.size_bytes(),
            fsync_rounds: self.fsync_rounds.load(Ordering::Relaxed),
            flush_calls: self.flush_calls.load(Ordering::Relaxed),
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
        problems
    }
}

/// Base offsets of the segments in `dir`, sorted; removes leftovers of interrupted operations
/// (temporary files, index files whose log is gone).
fn list_segments(dir: &Path) -> Result<Vec<i64>> {
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in fs::read_dir(dir).ctx(|| format!("list {}", dir.display()))? {
        let path = entry.ctx(|| format!("list {}", dir.display()))?.path();
        let (Some(stem), Some(ext)) = (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|s| s.to_str())) else {
            continue;
        };
        let base = (stem.len() == 20).then(|| stem.parse::<i64>().ok()).flatten();
        match (base, ext) {
            (Some(base), LOG_SUFFIX) => bases.push(base),
            (Some(base), INDEX_SUFFIX | TIME_INDEX_SUFFIX) => index_files.push((base, path)),
            (_, "tmp") => fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?,
            _ => {}
        }
    }
    bases.sort_unstable();
    for (base, path) in index_files {
        if bases.binary_search(&base).is_err() {
            fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        }
    }
    Ok(bases)
}

fn delete_segment_files(dir: &Path, base: i64) -> Result<()> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = crate::segment::segment_file(dir, base, suffix);
        if path.exists() {
            fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        }
    }
    Ok(())
}

fn modified_ms(path: &Path) -> i64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64)
}
