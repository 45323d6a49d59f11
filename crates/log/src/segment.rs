//! One segment: a log file of whole batches and its two indexes, named by the base offset.
//!
//! Files: `<base:020>.log` (RecordBatch v2 bytes, back to back), `<base:020>.index` (offset ->
//! position), `<base:020>.timeindex` (timestamp -> offset). The log file is the truth; the indexes
//! are derived by one rule (`record_batch`) both when appending and when rebuilding, so a rebuilt
//! index equals the one written by appends.
//!
//! Not thread-safe by itself: the owning `Log` serialises writers and guards state with its lock.
//! The log file handle is an `Arc<File>` so readers (slices) keep it open after retention deletes it,
//! and a truncation (`truncate_to`) leaves a file that readers hold as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{check_batch, BatchHeader, HEADER_BYTES, LOG_OVERHEAD};
use crate::config::LogConfig;
use crate::error::{IoContext, LogError, Result};
use crate::file_records::HeaderScanner;
use crate::index::{OffsetIndex, TimeIndex};

pub const LOG_SUFFIX: &str = "log";
pub const INDEX_SUFFIX: &str = "index";
pub const TIME_INDEX_SUFFIX: &str = "timeindex";

/// `<dir>/<base_offset:020>.<suffix>`
pub fn segment_file(dir: &Path, base_offset: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base_offset:020}.{suffix}"))
}

/// What recovery found in one segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentRecovery {
    pub base_offset: i64,
    pub valid_bytes: u64,
    pub truncated_bytes: u64,
    /// Why the scan stopped early, when it did.
    pub reason: Option<String>,
}

pub struct Segment {
    pub base_offset: i64,
    log: Arc<File>,
    log_path: PathBuf,
    /// Bytes of whole batches in the log file.
    size: u64,
    /// The offset after the last batch (= base_offset when empty).
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index_entry: u64,
    /// Greatest batch maxTimestamp so far (-1 when none) and the base offset of its batch.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// maxTimestamp of the first batch: time-based rolling counts from it.
    first_batch_timestamp: Option<i64>,
    index_interval_bytes: u64,
}

impl Segment {
    /// Creates an empty active segment. Refuses to reuse a non-empty log file.
    pub fn create(dir: &Path, base_offset: i64, config: &LogConfig) -> Result<Segment> {
        let log_path = segment_file(dir, base_offset, LOG_SUFFIX);
        let log = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&log_path)
            .ctx(|| format!("create {}", log_path.display()))?;
        if log.metadata().ctx(|| format!("stat {}", log_path.display()))?.len() != 0 {
            return Err(LogError::storage(
                format!("segment {} exists and is not empty", log_path.display()),
                io::Error::from(io::ErrorKind::AlreadyExists),
            ));
        }
        let mut segment = Self::open_files(dir, base_offset, log, log_path, config, true)?;
        segment.offset_index.mmap_index().reset(config.max_index_bytes).ctx(|| "reset index".into())?;
        segment.time_index.mmap_index().reset(config.max_index_bytes).ctx(|| "reset time index".into())?;
        Ok(segment)
    }

    /// Opens an existing segment. Indexes are opened as found (preallocated when `active`); call
    /// `load` to check them and find the segment's end, or `recover` to rebuild from the log.
    /// Returns the segment and whether both index files existed.
    pub fn open(dir: &Path, base_offset: i64, config: &LogConfig, active: bool) -> Result<(Segment, bool)> {
        let log_path = segment_file(dir, base_offset, LOG_SUFFIX);
        let indexes_exist = segment_file(dir, base_offset, INDEX_SUFFIX).exists()
            && segment_file(dir, base_offset, TIME_INDEX_SUFFIX).exists();
        let log = OpenOptions::new().read(true).write(true).open(&log_path)
            .ctx(|| format!("open {}", log_path.display()))?;
        Ok((Self::open_files(dir, base_offset, log, log_path, config, active)?, indexes_exist))
    }

    fn open_files(dir: &Path, base_offset: i64, log: File, log_path: PathBuf, config: &LogConfig, active: bool) -> Result<Segment> {
        let size = log.metadata().ctx(|| format!("stat {}", log_path.display()))?.len();
        let prealloc = active.then_some(config.max_index_bytes);
        let index_path = segment_file(dir, base_offset, INDEX_SUFFIX);
        let time_path = segment_file(dir, base_offset, TIME_INDEX_SUFFIX);
        let offset_index = OffsetIndex::open(&index_path, base_offset, prealloc).ctx(|| format!("open {}", index_path.display()))?;
        let time_index = TimeIndex::open(&time_path, base_offset, prealloc).ctx(|| format!("open {}", time_path.display()))?;
        Ok(Segment {
            base_offset,
            log: Arc::new(log),
            log_path,
            size,
            next_offset: base_offset,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            first_batch_timestamp: None,
            index_interval_bytes: config.index_interval_bytes,
        })
    }

    /// Trusts a segment that was closed cleanly: checks its indexes and finds its end by scanning
    /// the headers after the last index entry. Returns false (and changes nothing that `recover`
    /// would not redo) when anything is off, in which case the caller must `recover`.
    pub fn load(&mut self) -> Result<bool> {
        if !self.offset_index.sanity_check(self.size) || !self.time_index.sanity_check() {
            return Ok(false);
        }
        self.resume_from_indexes()
    }

    /// Sets what appends continue from (the end, bytes since the last index entry, the greatest
    /// timestamp, the first batch's timestamp) from the indexes and the headers of the batches after
    /// the last offset-index entry, which must run contiguously to the end of the `size` bytes.
    /// Returns false when they do not (then only `recover` can rebuild the segment). The last
    /// time-index entry holds the greatest timestamp up to the last indexed batch (a sealed segment's
    /// holds the greatest of all); the scanned batches can only raise it.
    fn resume_from_indexes(&mut self) -> Result<bool> {
        let (mut offset, position) = self.offset_index.last().unwrap_or((self.base_offset, 0));
        let (mut max_timestamp, mut offset_of_max) = self.time_index.last().unwrap_or((-1, self.base_offset));
        let mut scanner = HeaderScanner::new(&self.log, position as u64, self.size);
        while let Ok(Some(header)) = scanner.peek() {
            if header.base_offset != offset || header.last_offset_delta < 0 {
                return Ok(false);
            }
            if header.max_timestamp > max_timestamp {
                (max_timestamp, offset_of_max) = (header.max_timestamp, header.base_offset);
            }
            offset = header.next_offset();
            scanner.advance(&header);
        }
        if scanner.position() != self.size {
            return Ok(false);
        }
        self.next_offset = offset;
        self.bytes_since_index_entry = self.size - position as u64;
        self.max_timestamp = max_timestamp;
        self.offset_of_max_timestamp = offset_of_max;
        self.first_batch_timestamp = None;
        if self.size > 0 {
            let first = HeaderScanner::new(&self.log, 0, self.size).peek()?.expect("size > 0");
            self.first_batch_timestamp = Some(first.max_timestamp);
        }
        Ok(true)
    }

    /// (position, base offset) of the batch that holds `offset`; (size, next offset) when `offset`
    /// is at or past the end.
    pub fn batch_holding(&self, offset: i64) -> Result<(u64, i64)> {
        let mut scanner = HeaderScanner::new(&self.log, self.lookup(offset), self.size);
        while let Some(h) = scanner.peek()? {
            if h.next_offset() > offset {
                return Ok((scanner.position(), h.base_offset));
            }
            scanner.advance(&h);
        }
        Ok((self.size, self.next_offset))
    }

    /// Whether anyone besides the segment holds its log file (a slice, the transfer engine's
    /// mapping cache). A first reader can only take it under the log's state lock (others clone a
    /// reader's): with the lock held for writing, a false answer stays false. Holders are counted
    /// per open of the directory: a slice kept from an earlier `Log::open` of it is not seen (the
    /// broker never reopens a partition's log while it still serves slices of the old one).
    pub fn log_file_shared(&self) -> bool {
        Arc::strong_count(&self.log) > 1
    }

    /// A copy of the first `bytes` of the log file at `<name>.log.tmp` (a load removes it if a crash
    /// leaves it), fsynced, for `truncate_at` to rename over the log file. Reads only.
    pub fn copy_prefix(&self, bytes: u64) -> Result<File> {
        let tmp = self.log_path.with_extension("log.tmp");
        let what = || format!("copy the first {bytes} bytes of {} to {}", self.log_path.display(), tmp.display());
        let mut out = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp).ctx(what)?;
        // A handle of its own: the segment's handle is read positionally, its cursor is anywhere.
        let source = File::open(&self.log_path).ctx(what)?;
        let copied = io::copy(&mut source.take(bytes), &mut out).ctx(what)?;
        if copied != bytes {
            return Err(LogError::storage(what(), io::Error::from(io::ErrorKind::UnexpectedEof)));
        }
        out.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        Ok(out)
    }

    /// Removes the batch at `position` (a batch start; `base` its base offset, as `batch_holding`
    /// gives them) and every later one: the log file ends there, the indexes keep their entries
    /// below `base`, and appends continue from there. The caller must `unseal` a sealed segment that
    /// is to take appends, and fsync the file (and for `copy` the directory).
    ///
    /// `copy` (from `copy_prefix(position)`) is renamed over the log file and used from now on,
    /// leaving the old file as it was to the readers that hold it: cutting a file that the
    /// transfer engine has mapped would fault a reader touching the cut pages (SIGBUS). None cuts
    /// the file in place: only for a file no one else holds (`log_file_shared`).
    pub fn truncate_at(&mut self, position: u64, base: i64, copy: Option<File>, max_index_bytes: usize) -> Result<()> {
        if position >= self.size {
            return Ok(());
        }
        match copy {
            Some(file) => {
                let tmp = self.log_path.with_extension("log.tmp");
                fs::rename(&tmp, &self.log_path).ctx(|| format!("rename {} over {}", tmp.display(), self.log_path.display()))?;
                self.log = Arc::new(file);
            }
            None => self.log.set_len(position).ctx(|| format!("truncate {}", self.log_path.display()))?,
        }
        self.offset_index.truncate_to(base);
        self.time_index.truncate_to(base);
        self.size = position;
        if !self.resume_from_indexes()? {
            // Cannot happen to indexes that were consistent; if they were not, the log decides.
            self.recover(max_index_bytes)?;
        }
        Ok(())
    }

    /// Scans the whole log file batch by batch, validating each (bounds, magic, CRC, count, offsets
    /// contiguous from the base offset), rebuilds both indexes, and truncates the file at the first
    /// invalid byte. `max_index_bytes` sizes the rebuilt indexes.
    pub fn recover(&mut self, max_index_bytes: usize) -> Result<SegmentRecovery> {
        let file_bytes = self.log.metadata().ctx(|| format!("stat {}", self.log_path.display()))?.len();
        self.offset_index.mmap_index().reset(max_index_bytes).ctx(|| "reset index".into())?;
        self.time_index.mmap_index().reset(max_index_bytes).ctx(|| "reset time index".into())?;
        self.size = 0;
        self.next_offset = self.base_offset;
        self.bytes_since_index_entry = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.first_batch_timestamp = None;

        let log = self.log.clone();
        let mut reader = BufReader::with_capacity(1 << 20, log.as_ref());
        let mut batch = Vec::with_capacity(64 * 1024);
        let mut position = 0u64;
        let reason = loop {
            if position == file_bytes {
                break None;
            }
            if let Err(reason) = read_batch(&mut reader, &mut batch, file_bytes - position) {
                break Some(reason);
            }
            let header = match check_batch(&batch, batch.len()) {
                Ok(h) => h,
                Err(e) => break Some(format!("{}: {e}", e.code())),
            };
            if header.base_offset != self.next_offset {
                break Some(format!("batch offset {} where {} was expected", header.base_offset, self.next_offset));
            }
            self.record_batch(position, &header);
            position += header.size_bytes as u64;
        };
        if position < file_bytes {
            self.log.set_len(position).ctx(|| format!("truncate {}", self.log_path.display()))?;
        }
        Ok(SegmentRecovery {
            base_offset: self.base_offset,
            valid_bytes: position,
            truncated_bytes: file_bytes - position,
            reason: reason.map(|r| format!("{r} at position {position}")),
        })
    }

    /// The one indexing rule, shared by append and rebuild: after every `indexIntervalBytes` of
    /// log, the next batch gets an offset-index entry and the time index gets the greatest
    /// timestamp so far. The first batch is never indexed (position 0 is the implicit floor).
    fn record_batch(&mut self, position: u64, header: &BatchHeader) {
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(header.max_timestamp);
        }
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.base_offset;
        }
        if self.bytes_since_index_entry > self.index_interval_bytes {
            // A full index only costs a longer scan; the roll check keeps it from filling.
            if self.offset_index.append(header.base_offset, position as u32) {
                self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += header.size_bytes as u64;
        self.size = position + header.size_bytes as u64;
        self.next_offset = header.next_offset();
    }

    /// Whether appending these (validated) batches of `bytes` in total must go to a new segment.
    pub fn should_roll(&self, headers: &[BatchHeader], bytes: u64, config: &LogConfig) -> bool {
        if self.size == 0 {
            return false;
        }
        let max_ts = headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1);
        let records: i64 = headers.iter().map(|h| h.last_offset_delta as i64 + 1).sum();
        self.size + bytes > config.segment_bytes
            || self.first_batch_timestamp.is_some_and(|first| max_ts.saturating_sub(first) > config.segment_ms)
            || self.offset_index.index().is_full()
            || self.time_index.index().is_full()
            || self.next_offset + records - 1 - self.base_offset > u32::MAX as i64
    }

    /// Writes stamped, validated batches after the published end of the log file. On a failed or
    /// short write the file is cut back, so no partial batch remains. Nothing is published: call
    /// `publish` next. The caller serialises writers.
    pub fn write_at_end(&self, batches: &[u8]) -> Result<()> {
        if let Err(e) = self.log.write_all_at(batches, self.size) {
            let _ = self.log.set_len(self.size);
            return Err(LogError::storage(format!("append to {}", self.log_path.display()), e));
        }
        Ok(())
    }

    /// Makes batches written by `write_at_end` visible: indexes them and moves the end.
    pub fn publish(&mut self, headers: &[BatchHeader]) {
        let mut position = self.size;
        for header in headers {
            self.record_batch(position, header);
            position += header.size_bytes as u64;
        }
    }

    /// Makes the segment read-only: a last time-index entry for its greatest timestamp, and both
    /// indexes trimmed to their used size.
    pub fn seal(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index.maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
        }
        self.offset_index.mmap_index().trim().ctx(|| "trim index".into())?;
        self.time_index.mmap_index().trim().ctx(|| "trim time index".into())
    }

    /// Reopens a sealed segment for appends (its indexes preallocated again).
    pub fn unseal(&mut self, max_index_bytes: usize) -> Result<()> {
        self.offset_index.mmap_index().preallocate(max_index_bytes).ctx(|| "preallocate index".into())?;
        self.time_index.mmap_index().preallocate(max_index_bytes).ctx(|| "preallocate time index".into())
    }

    /// The position of the greatest indexed batch at or before `offset` (scan forward from it).
    pub fn lookup(&self, offset: i64) -> u64 {
        self.offset_index.lookup(offset) as u64
    }

    /// The greatest indexed batch start at or below `position`, as (its base offset, position).
    pub fn lookup_by_position(&self, position: u64) -> Option<(i64, u64)> {
        self.offset_index.lookup_by_position(position.min(u32::MAX as u64) as u32).map(|(o, p)| (o, p as u64))
    }

    /// The greatest indexed batch whose base offset is <= `offset`, as (its base offset, position).
    pub fn lookup_entry(&self, offset: i64) -> Option<(i64, u64)> {
        self.offset_index.lookup_entry(offset).map(|(o, p)| (o, p as u64))
    }

    /// Where to start scanning for the first batch with maxTimestamp >= `timestamp`.
    pub fn lookup_timestamp(&self, timestamp: i64) -> u64 {
        self.time_index.lookup(timestamp).map_or(0, |offset| self.lookup(offset))
    }

    pub fn log_file(&self) -> &Arc<File> {
        &self.log
    }

    /// Handles to fsync for this segment: the log, and the indexes when `with_indexes`.
    pub fn sync_handles(&self, with_indexes: bool) -> Vec<Arc<File>> {
        let mut files = vec![self.log.clone()];
        if with_indexes {
            files.push(self.offset_index.index().file_handle());
            files.push(self.time_index.index().file_handle());
        }
        files
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The offset and time index entries, for tests that compare a rebuilt index with the original.
    pub fn index_entries(&self) -> (Vec<(i64, u32)>, Vec<(i64, i64)>) {
        let offsets = (0..self.offset_index.index().entries()).map(|i| self.offset_index.get(i)).collect();
        let times = (0..self.time_index.index().entries()).map(|i| self.time_index.get(i)).collect();
        (offsets, times)
    }

    /// Checks the segment against its own bytes: batch headers contiguous in offsets from the base
    /// offset up to `next_offset`, every offset-index entry naming a batch start and its base
    /// offset, every time-index entry naming a batch whose max timestamp it is, in order. Returns
    /// what is wrong, one line each (empty when consistent). Reads headers only.
    pub fn verify(&self) -> Vec<String> {
        let name = self.log_path.display();
        let mut problems = Vec::new();
        let mut starts = std::collections::HashMap::new();
        let mut scanner = HeaderScanner::new(&self.log, 0, self.size);
        let mut offset = self.base_offset;
        loop {
            match scanner.next_batch() {
                Ok(Some((position, header))) => {
                    if header.base_offset != offset {
                        problems.push(format!("{name}: batch at position {position} has offset {} where {offset} was expected", header.base_offset));
                    }
                    starts.insert(header.base_offset, (position, header.max_timestamp));
                    offset = header.next_offset();
                }
                Ok(None) => break,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    break;
                }
            }
        }
        if offset != self.next_offset {
            problems.push(format!("{name}: batches end at offset {offset}, the segment says {}", self.next_offset));
        }
        let (offsets, times) = self.index_entries();
        for pair in offsets.windows(2) {
            if pair[1].0 <= pair[0].0 || pair[1].1 <= pair[0].1 {
                problems.push(format!("{name}: offset index out of order at {:?}, {:?}", pair[0], pair[1]));
            }
        }
        for (entry_offset, entry_position) in offsets {
            if starts.get(&entry_offset).map(|s| s.0) != Some(entry_position as u64) {
                problems.push(format!("{name}: offset index entry ({entry_offset}, {entry_position}) is not a batch start"));
            }
        }
        for pair in times.windows(2) {
            if pair[1].0 < pair[0].0 || pair[1].1 < pair[0].1 {
                problems.push(format!("{name}: time index out of order at {:?}, {:?}", pair[0], pair[1]));
            }
        }
        for (timestamp, entry_offset) in times {
            if starts.get(&entry_offset).map(|s| s.1) != Some(timestamp) {
                problems.push(format!("{name}: time index entry ({timestamp}, {entry_offset}) does not name a batch with that max timestamp"));
            }
        }
        problems
    }

    /// Removes the segment's files. Open handles (slices in flight) keep the data readable.
    pub fn delete_files(&self) -> io::Result<()> {
        for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
            let path = self.log_path.with_extension(suffix);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Reads the next whole batch (as far as its length field says) into `batch`, or says why not.
fn read_batch(reader: &mut impl Read, batch: &mut Vec<u8>, bytes_left: u64) -> std::result::Result<(), String> {
    batch.resize(LOG_OVERHEAD, 0);
    if bytes_left < HEADER_BYTES as u64 {
        return Err(format!("torn batch header ({bytes_left} bytes)"));
    }
    reader.read_exact(batch).map_err(|e| format!("read: {e}"))?;
    let batch_length = i32::from_be_bytes(batch[8..12].try_into().unwrap());
    let size = batch_length as i64 + LOG_OVERHEAD as i64;
    if size < HEADER_BYTES as i64 || size as u64 > bytes_left {
        return Err(format!("batchLength {batch_length} does not fit the {bytes_left} bytes left"));
    }
    batch.resize(size as usize, 0);
    reader.read_exact(&mut batch[LOG_OVERHEAD..]).map_err(|e| format!("read: {e}"))
}
