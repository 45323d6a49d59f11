//! Memory-mapped, preallocated, sparse index files: the shared mechanics (`MmapIndex`) and the two
//! entry layouts on top of it (`OffsetIndex`, `TimeIndex`).
//!
//! On disk an index is a flat array of fixed-size big-endian entries, sorted by key. The index of
//! the active segment is preallocated to `maxIndexBytes` and mapped whole, so appends are a store
//! into the mapping; when the segment rolls or closes the file is trimmed to its used entries.
//! Nothing is checksummed: after an unclean stop the active segment's index is rebuilt from the log,
//! and an index that fails `sanity_check` on open is rebuilt too. The log is the truth.
//!
//! Blocks behind the mapping are reserved with `fallocate` a chunk ahead of the entries written,
//! so a full disk costs index entries, never a SIGBUS.
//!
//! Not thread-safe by itself: the owning `Log` holds its state lock around every call.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapMut;

/// An index file of `entry_bytes`-sized entries, mapped into memory.
pub struct MmapIndex {
    file: Arc<File>,
    /// None while the file is empty (a zero-length file cannot be mapped).
    mmap: Option<MmapMut>,
    entry_bytes: usize,
    entries: usize,
    /// Entries the current mapping can hold.
    capacity: usize,
    /// Bytes from the start of the file known to have disk blocks behind them (see `back`).
    backed_bytes: usize,
}

/// Blocks are reserved for the sparse index this much at a time.
const BACKING_CHUNK_BYTES: usize = 64 * 1024;

impl MmapIndex {
    /// Opens (creating if needed) an index file. Its entries are the whole entries in the file;
    /// when `preallocate_bytes` is given the file is grown to that size (rounded down to whole
    /// entries) so that appends need no remap.
    pub fn open(path: &Path, entry_bytes: usize, preallocate_bytes: Option<usize>) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let file = Arc::new(file);
        let len = file.metadata()?.len() as usize;
        let entries = len / entry_bytes;
        let mut index = MmapIndex {
            file,
            mmap: None,
            entry_bytes,
            entries,
            capacity: 0,
            // Entries already in the file were written, so their blocks exist.
            backed_bytes: entries * entry_bytes,
        };
        let target = match preallocate_bytes {
            Some(bytes) => (bytes / entry_bytes).max(entries) * entry_bytes,
            None => len,
        };
        index.remap(target)?;
        Ok(index)
    }

    fn remap(&mut self, file_bytes: usize) -> io::Result<()> {
        self.mmap = None;
        if self.file.metadata()?.len() as usize != file_bytes {
            self.file.set_len(file_bytes as u64)?;
        }
        self.capacity = file_bytes / self.entry_bytes;
        self.backed_bytes = self.backed_bytes.min(file_bytes);
        if file_bytes > 0 {
            // SAFETY: the file is owned by this index and only resized through `remap`, which
            // drops the old mapping first; nothing else maps or truncates it.
            self.mmap = Some(unsafe { MmapMut::map_mut(self.file.as_ref())? });
        }
        Ok(())
    }

    pub fn entries(&self) -> usize {
        self.entries
    }

    pub fn is_full(&self) -> bool {
        self.entries >= self.capacity
    }

    /// The file, for an fsync outside the owner's lock (fsync also writes pages dirtied through
    /// the mapping).
    pub fn file_handle(&self) -> Arc<File> {
        self.file.clone()
    }

    /// The raw bytes of entry `i` (< entries).
    pub fn entry(&self, i: usize) -> &[u8] {
        let at = i * self.entry_bytes;
        &self.mmap.as_ref().expect("entries > 0 implies a mapping")[at..at + self.entry_bytes]
    }

    /// Appends an entry. Returns false (and writes nothing) when the index is full.
    pub fn push(&mut self, entry: &[u8]) -> bool {
        debug_assert_eq!(entry.len(), self.entry_bytes);
        if self.is_full() {
            return false;
        }
        let at = self.entries * self.entry_bytes;
        if at + self.entry_bytes > self.backed_bytes && !self.back(at + self.entry_bytes) {
            return false;
        }
        self.mmap.as_mut().expect("capacity > 0 implies a mapping")[at..at + self.entry_bytes].copy_from_slice(entry);
        self.entries += 1;
        true
    }

    /// Reserves disk blocks up to at least `end` (a chunk at a time, never past the file's end).
    /// The preallocated tail is a hole: a store into an unbacked page of the mapping on a full
    /// filesystem raises SIGBUS and kills the process, where a failed `fallocate` is only an entry
    /// not written (a longer scan; the next append tries again). False when the disk is full.
    fn back(&mut self, end: usize) -> bool {
        let file_bytes = self.capacity * self.entry_bytes;
        let target = end.next_multiple_of(BACKING_CHUNK_BYTES).min(file_bytes).max(end);
        let from = self.backed_bytes;
        // SAFETY: plain syscall on a file descriptor this index owns; mode 0 within the file's size
        // allocates blocks and changes nothing else.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), 0, from as libc::off_t, (target - from) as libc::off_t) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS)) {
                return false;
            }
            // A filesystem without fallocate: nothing better to do than write as before.
        }
        self.backed_bytes = target;
        true
    }

    /// The greatest entry whose key (read by `key`) is <= `target`, by binary search.
    /// Entries must be sorted by key. Returns None when every key is greater (or no entries).
    pub fn floor<K: Ord>(&self, target: K, key: impl Fn(&[u8]) -> K) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.entries);
        // Invariant: entries [0, lo) have key <= target, entries [hi, n) have key > target.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(self.entry(mid)) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    /// Empties the index and preallocates it again (for a rebuild).
    pub fn reset(&mut self, preallocate_bytes: usize) -> io::Result<()> {
        self.entries = 0;
        self.remap(0)?;
        self.remap(preallocate_bytes / self.entry_bytes * self.entry_bytes)
    }

    /// Keeps the first `entries` entries (fewer than there are: nothing changes) and zeroes the
    /// ones dropped, so that a crash before the next trim leaves them looking like the zeroed tail
    /// of a preallocated index (which fails `sanity_check` and is rebuilt), never like entries.
    pub fn truncate_to_entries(&mut self, entries: usize) {
        if entries >= self.entries {
            return;
        }
        let (from, to) = (entries * self.entry_bytes, self.entries * self.entry_bytes);
        self.mmap.as_mut().expect("entries > 0 implies a mapping")[from..to].fill(0);
        self.entries = entries;
    }

    /// Shrinks the file to its used entries (when the segment rolls or closes).
    pub fn trim(&mut self) -> io::Result<()> {
        if let Some(m) = &self.mmap {
            m.flush_async()?;
        }
        self.remap(self.entries * self.entry_bytes)
    }

    /// Grows a trimmed index back to `preallocate_bytes` (when a closed segment becomes active again).
    pub fn preallocate(&mut self, preallocate_bytes: usize) -> io::Result<()> {
        let target = (preallocate_bytes / self.entry_bytes).max(self.entries) * self.entry_bytes;
        self.remap(target)
    }

    /// Whether the entries are strictly increasing under `key`, and each passes `valid`.
    pub fn is_sorted_strictly<K: Ord>(&self, key: impl Fn(&[u8]) -> K, valid: impl Fn(&[u8]) -> bool) -> bool {
        let mut previous: Option<K> = None;
        for i in 0..self.entries {
            let e = self.entry(i);
            if !valid(e) {
                return false;
            }
            let k = key(e);
            if previous.as_ref().is_some_and(|p| *p >= k) {
                return false;
            }
            previous = Some(k);
        }
        true
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Sparse map from offset to byte position in the segment's log file.
///
/// Entry (8 bytes): relative offset u32 BE (offset - segment base offset), position u32 BE.
/// Entries point at the first byte of a batch and key it by the batch's base offset. The first
/// batch of a segment is never indexed (position 0 is the implicit floor), so an entry of
/// position 0 is never valid: that is how the zeroed preallocated tail of a crashed index shows.
pub struct OffsetIndex {
    inner: MmapIndex,
    base_offset: i64,
}

pub const OFFSET_ENTRY_BYTES: usize = 8;

impl OffsetIndex {
    pub fn open(path: &Path, base_offset: i64, preallocate_bytes: Option<usize>) -> io::Result<Self> {
        Ok(OffsetIndex { inner: MmapIndex::open(path, OFFSET_ENTRY_BYTES, preallocate_bytes)?, base_offset })
    }

    /// Records that the batch with base `offset` starts at `position`. False when full.
    pub fn append(&mut self, offset: i64, position: u32) -> bool {
        let relative = (offset - self.base_offset) as u32;
        let mut e = [0u8; OFFSET_ENTRY_BYTES];
        e[0..4].copy_from_slice(&relative.to_be_bytes());
        e[4..8].copy_from_slice(&position.to_be_bytes());
        self.inner.push(&e)
    }

    /// (offset, position) of entry i.
    pub fn get(&self, i: usize) -> (i64, u32) {
        let e = self.inner.entry(i);
        (self.base_offset + be_u32(e, 0) as i64, be_u32(e, 4))
    }

    /// The position of the greatest indexed batch starting at or before `offset`; 0 (the first
    /// batch) when there is none. Scanning forward from it finds the batch that holds `offset`.
    pub fn lookup(&self, offset: i64) -> u32 {
        if offset < self.base_offset {
            return 0;
        }
        let target = (offset - self.base_offset).min(u32::MAX as i64) as u32;
        self.inner.floor(target, |e| be_u32(e, 0)).map_or(0, |i| self.get(i).1)
    }

    /// The greatest entry whose position is <= `position`, as (offset, position).
    pub fn lookup_by_position(&self, position: u32) -> Option<(i64, u32)> {
        self.inner.floor(position, |e| be_u32(e, 4)).map(|i| self.get(i))
    }

    /// Drops the entries of batches at or past `offset` (a truncation of the segment's log there).
    pub fn truncate_to(&mut self, offset: i64) {
        let keep = self.entries_below(offset);
        self.inner.truncate_to_entries(keep);
    }

    /// Sound when offsets and positions both strictly increase, no position is 0 and every position
    /// lies inside a log of `log_bytes`.
    pub fn sanity_check(&self, log_bytes: u64) -> bool {
        let positions_ok = self.inner.is_sorted_strictly(
            |e| be_u32(e, 4),
            |e| be_u32(e, 4) > 0 && (be_u32(e, 4) as u64) < log_bytes,
        );
        positions_ok && self.inner.is_sorted_strictly(|e| be_u32(e, 0), |_| true)
    }

    pub fn last(&self) -> Option<(i64, u32)> {
        self.inner.entries().checked_sub(1).map(|i| self.get(i))
    }

    /// The greatest entry whose offset is <= `offset`, as (offset, position).
    pub fn lookup_entry(&self, offset: i64) -> Option<(i64, u32)> {
        let target = offset.checked_sub(self.base_offset).filter(|r| *r >= 0)?.min(u32::MAX as i64) as u32;
        self.inner.floor(target, |e| be_u32(e, 0)).map(|i| self.get(i))
    }

    /// How many entries name offsets below `offset`.
    fn entries_below(&self, offset: i64) -> usize {
        entries_below(&self.inner, self.base_offset, offset, |e| be_u32(e, 0))
    }

    pub fn mmap_index(&mut self) -> &mut MmapIndex {
        &mut self.inner
    }

    pub fn index(&self) -> &MmapIndex {
        &self.inner
    }
}

/// How many entries of `index` (sorted, not necessarily strictly, by the relative offset `relative`
/// reads) name offsets below `offset`, in a segment based at `base_offset`.
fn entries_below(index: &MmapIndex, base_offset: i64, offset: i64, relative: impl Fn(&[u8]) -> u32) -> usize {
    if offset <= base_offset {
        return 0;
    }
    let below = (offset - base_offset - 1).min(u32::MAX as i64) as u32;
    index.floor(below, relative).map_or(0, |i| i + 1)
}

/// Sparse map from timestamp to offset, for `offsetForTimestamp`.
///
/// Entry (12 bytes): timestamp i64 BE, relative offset u32 BE. An entry (T, O) says: the greatest
/// batch maxTimestamp in this segment up to and including the batch at O is T, first reached at O.
/// Timestamps strictly increase from entry to entry.
pub struct TimeIndex {
    inner: MmapIndex,
    base_offset: i64,
}

pub const TIME_ENTRY_BYTES: usize = 12;

impl TimeIndex {
    pub fn open(path: &Path, base_offset: i64, preallocate_bytes: Option<usize>) -> io::Result<Self> {
        Ok(TimeIndex { inner: MmapIndex::open(path, TIME_ENTRY_BYTES, preallocate_bytes)?, base_offset })
    }

    /// Appends (timestamp, offset) unless the timestamp is not greater than the last entry's.
    /// Returns false only when the index is full.
    pub fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        if self.last().is_some_and(|(t, _)| t >= timestamp) {
            return true;
        }
        let mut e = [0u8; TIME_ENTRY_BYTES];
        e[0..8].copy_from_slice(&timestamp.to_be_bytes());
        e[8..12].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        self.inner.push(&e)
    }

    /// (timestamp, offset) of entry i.
    pub fn get(&self, i: usize) -> (i64, i64) {
        let e = self.inner.entry(i);
        (i64::from_be_bytes(e[0..8].try_into().unwrap()), self.base_offset + be_u32(e, 8) as i64)
    }

    pub fn last(&self) -> Option<(i64, i64)> {
        self.inner.entries().checked_sub(1).map(|i| self.get(i))
    }

    /// The offset of the greatest entry whose timestamp is <= `timestamp`: every batch before it
    /// has a smaller maxTimestamp, so a search for `timestamp` may start there.
    pub fn lookup(&self, timestamp: i64) -> Option<i64> {
        self.inner.floor(timestamp, |e| i64::from_be_bytes(e[0..8].try_into().unwrap())).map(|i| self.get(i).1)
    }

    /// Drops the entries that name batches at or past `offset` (a truncation of the segment's log
    /// there). An entry kept still holds: the greatest timestamp up to the batch it names is unchanged.
    pub fn truncate_to(&mut self, offset: i64) {
        let keep = entries_below(&self.inner, self.base_offset, offset, |e| be_u32(e, 8));
        self.inner.truncate_to_entries(keep);
    }

    /// Sound when timestamps strictly increase and relative offsets never decrease.
    pub fn sanity_check(&self) -> bool {
        let mut previous = 0u32;
        for i in 0..self.inner.entries() {
            let rel = be_u32(self.inner.entry(i), 8);
            if rel < previous {
                return false;
            }
            previous = rel;
        }
        self.inner.is_sorted_strictly(|e| i64::from_be_bytes(e[0..8].try_into().unwrap()), |_| true)
    }

    pub fn mmap_index(&mut self) -> &mut MmapIndex {
        &mut self.inner
    }

    pub fn index(&self) -> &MmapIndex {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_lookup_finds_the_floor_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = OffsetIndex::open(&dir.path().join("a.index"), 100, Some(1024)).unwrap();
        assert_eq!(idx.lookup(150), 0, "empty index floors to position 0");
        for i in 1..=50u32 {
            assert!(idx.append(100 + (i as i64) * 10, i * 1000));
        }
        assert_eq!(idx.lookup(99), 0);
        assert_eq!(idx.lookup(100), 0);
        assert_eq!(idx.lookup(109), 0);
        assert_eq!(idx.lookup(110), 1000);
        assert_eq!(idx.lookup(119), 1000);
        assert_eq!(idx.lookup(355), 25_000);
        assert_eq!(idx.lookup(600), 50_000);
        assert_eq!(idx.lookup(10_000_000), 50_000);
        assert_eq!(idx.lookup_by_position(999), None);
        assert_eq!(idx.lookup_by_position(2500), Some((120, 2000)));
        assert!(idx.sanity_check(50_001));
        assert!(!idx.sanity_check(50_000), "an entry at or past the log end is unsound");
    }

    #[test]
    fn preallocated_index_fills_then_trims_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.index");
        let mut idx = OffsetIndex::open(&path, 0, Some(80)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        for i in 1..=10u32 {
            assert!(idx.append(i as i64, i * 10));
        }
        assert!(idx.index().is_full());
        assert!(!idx.append(11, 110), "a full index refuses entries");
        idx.mmap_index().trim().unwrap();
        drop(idx);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        let reopened = OffsetIndex::open(&path, 0, None).unwrap();
        assert_eq!(reopened.index().entries(), 10);
        assert_eq!(reopened.lookup(7), 70);
    }

    #[test]
    fn a_crashed_preallocated_index_fails_the_sanity_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.index");
        let mut idx = OffsetIndex::open(&path, 0, Some(4096)).unwrap();
        idx.append(5, 100);
        idx.append(9, 200);
        drop(idx); // not trimmed: the zeroed tail stays, as after a crash
        let reopened = OffsetIndex::open(&path, 0, None).unwrap();
        assert_eq!(reopened.index().entries(), 512);
        assert!(!reopened.sanity_check(10_000));
    }

    #[test]
    fn truncation_keeps_the_entries_below_the_offset_and_zeroes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.index");
        let mut idx = OffsetIndex::open(&path, 100, Some(1024)).unwrap();
        for i in 1..=10u32 {
            assert!(idx.append(100 + (i as i64) * 10, i * 1000));
        }
        idx.truncate_to(150); // entries at 110..140 stay; 150 and later go
        assert_eq!(idx.last(), Some((140, 4000)));
        assert_eq!(idx.lookup(1_000), 4000);
        assert_eq!(idx.lookup_entry(139), Some((130, 3000)));
        assert_eq!(idx.lookup_entry(99), None);
        idx.truncate_to(151); // past the last entry: nothing changes
        assert_eq!(idx.index().entries(), 4);
        assert!(idx.append(150, 5000), "appends continue after the cut");
        idx.truncate_to(100);
        assert_eq!(idx.index().entries(), 0);
        drop(idx);
        // The dropped entries are zeroes on disk: a reopen that counts them fails the sanity check.
        let reopened = OffsetIndex::open(&path, 100, None).unwrap();
        assert!(reopened.index().entries() > 0 && !reopened.sanity_check(1 << 20));

        let mut times = TimeIndex::open(&dir.path().join("f.timeindex"), 0, Some(1200)).unwrap();
        for (ts, offset) in [(10, 1), (20, 1), (30, 5), (40, 5), (50, 9)] {
            // repeated offsets: an entry added when a later batch was indexed, naming an earlier max
            times.inner.push(&[&(ts as i64).to_be_bytes()[..], &(offset as u32).to_be_bytes()[..]].concat());
        }
        times.truncate_to(5);
        assert_eq!(times.last(), Some((20, 1)));
        times.truncate_to(0);
        assert_eq!(times.last(), None);
    }

    #[test]
    fn time_index_keeps_strictly_increasing_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TimeIndex::open(&dir.path().join("d.timeindex"), 1000, Some(1200)).unwrap();
        assert!(idx.maybe_append(50, 1001));
        assert!(idx.maybe_append(50, 1002)); // not greater: skipped
        assert!(idx.maybe_append(40, 1003)); // skipped
        assert!(idx.maybe_append(70, 1004));
        assert_eq!(idx.index().entries(), 2);
        assert_eq!(idx.lookup(49), None);
        assert_eq!(idx.lookup(50), Some(1001));
        assert_eq!(idx.lookup(69), Some(1001));
        assert_eq!(idx.lookup(1_000_000), Some(1004));
        assert!(idx.sanity_check());
    }
}
