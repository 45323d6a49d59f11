//! Durability for one log: `Log::flush` with group commit, the recovery point it moves and
//! checkpoints, and the unflushed-bytes bookkeeping that appends keep and the background flusher
//! reads. The flusher thread itself, which applies `flushIntervalMs` / `flushIntervalBytes`
//! across all logs, is `flusher.rs`.
//!
//! Group commit: one fsync round runs at a time; flushes that arrive meanwhile wait for it and
//! share the next round, so many small appends that each want durability cost few fsyncs.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::checkpoint;
use crate::error::{IoContext, LogError, Result};
use crate::flusher;
use crate::fsync_latency;
use crate::log::Log;

struct FlushState {
    /// Everything below this offset is fsynced.
    recovery_point: i64,
    in_progress: bool,
    /// The recovery point last written to the checkpoint file.
    checkpointed: i64,
}

/// A log's flush bookkeeping (one per `Log`, in its `group_commit` field).
pub(crate) struct GroupCommit {
    state: Mutex<FlushState>,
    /// Signalled when an fsync round ends, for the flushes that waited for it.
    round_done: Condvar,
    /// Held while the recovery-point checkpoint file is written (see `write_checkpoint`).
    checkpoint_file: Mutex<()>,
    unflushed_bytes: AtomicU64,
    /// Flusher clock (µs) of the oldest unflushed append; 0 when nothing is unflushed.
    unflushed_since_us: AtomicU64,
    fsync_rounds: AtomicU64,
    flush_calls: AtomicU64,
}

impl GroupCommit {
    /// Bookkeeping for a log that is fsynced below `recovery_point` and has no checkpoint written
    /// by this run yet.
    pub(crate) fn new(recovery_point: i64) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(FlushState { recovery_point, in_progress: false, checkpointed: i64::MIN }),
            round_done: Condvar::new(),
            checkpoint_file: Mutex::new(()),
            unflushed_bytes: AtomicU64::new(0),
            unflushed_since_us: AtomicU64::new(0),
            fsync_rounds: AtomicU64::new(0),
            flush_calls: AtomicU64::new(0),
        }
    }

    /// Everything below this offset is fsynced.
    pub(crate) fn recovery_point(&self) -> i64 {
        self.state.lock().recovery_point
    }

    pub(crate) fn fsync_rounds(&self) -> u64 {
        self.fsync_rounds.load(Ordering::Relaxed)
    }

    pub(crate) fn flush_calls(&self) -> u64 {
        self.flush_calls.load(Ordering::Relaxed)
    }

    /// Takes `unflushed` bytes, counted before an fsync round that covered them, off the count.
    fn flushed(&self, unflushed: u64) {
        if self.unflushed_bytes.fetch_sub(unflushed, Ordering::AcqRel) == unflushed {
            self.unflushed_since_us.store(0, Ordering::Release);
        }
    }
}

impl Log {
    /// Makes every append that returned before this call durable (fsync), and returns the new
    /// recovery point. Concurrent calls share fsync rounds: a call that finds a round running
    /// waits for it and runs (or joins) the next only if that round did not already cover it.
    pub fn flush(&self) -> Result<i64> {
        let commit = &self.group_commit;
        commit.flush_calls.fetch_add(1, Ordering::Relaxed);
        if self.is_closed() {
            // A clean close flushed everything and let its files go; a log taken offline by an
            // I/O error may hold bytes that no fsync will cover now.
            let point = commit.recovery_point();
            return if point >= self.high_watermark() { Ok(point) } else { Err(LogError::Closed) };
        }
        let target = self.high_watermark();
        let mut flush = commit.state.lock();
        loop {
            if flush.recovery_point >= target {
                return Ok(flush.recovery_point);
            }
            if !flush.in_progress {
                break;
            }
            commit.round_done.wait(&mut flush);
        }
        flush.in_progress = true;
        let from = flush.recovery_point;
        drop(flush);

        let result = self.fsync_round(from);
        let mut flush = commit.state.lock();
        flush.in_progress = false;
        commit.round_done.notify_all();
        let (point, unflushed) = result?;
        flush.recovery_point = flush.recovery_point.max(point);
        commit.flushed(unflushed);
        // The checkpoint only has to name the segment recovery starts from, so it is rewritten
        // when the recovery point enters a new segment, not on every round.
        let checkpoint_due = self.segment_of(point) != self.segment_of(flush.checkpointed);
        if checkpoint_due {
            flush.checkpointed = point;
        }
        drop(flush);
        if checkpoint_due {
            self.write_checkpoint()?;
        }
        Ok(point)
    }

    /// Writes the recovery point as it is now, not as the caller's round saw it, one writer at a
    /// time: a round that finished just before a truncation must not write its older, larger point
    /// over the new end the truncation wrote. (Each write reads the point when it runs, so the last
    /// one writes a point no greater than the end.)
    fn write_checkpoint(&self) -> Result<()> {
        let _file = self.group_commit.checkpoint_file.lock();
        let point = self.group_commit.state.lock().recovery_point;
        checkpoint::write_recovery_point(&self.dir, point).ctx(|| format!("write the recovery point in {}", self.dir.display()))
    }

    /// Runs `cut`, which moves the high watermark back (a truncation, a reset), with no fsync round
    /// in flight, then fsyncs what is left from the recovery point on and moves the recovery point,
    /// in memory and in its checkpoint file, to the new end; returns it. Without the exclusion, a
    /// round that read the old end before the cut would raise the recovery point past the new end
    /// when it finished, and a recovery after a crash would skip scanning bytes appended later.
    /// Flushes that arrive meanwhile wait, as for any round. Caller holds `writer`.
    pub(crate) fn cut_durably(&self, cut: impl FnOnce() -> Result<()>) -> Result<i64> {
        let commit = &self.group_commit;
        let from = {
            let mut flush = commit.state.lock();
            while flush.in_progress {
                commit.round_done.wait(&mut flush);
            }
            flush.in_progress = true;
            flush.recovery_point
        };
        let result = cut().and_then(|()| self.fsync_round(from.min(self.high_watermark())));
        let end = self.high_watermark();
        let mut flush = commit.state.lock();
        flush.in_progress = false;
        commit.round_done.notify_all();
        // Never past the end, even when the cut failed half way; the next flush moves it on.
        let point = match &result {
            Ok((point, unflushed)) => {
                commit.flushed(*unflushed);
                *point
            }
            Err(_) => flush.recovery_point.min(end),
        };
        flush.recovery_point = point;
        flush.checkpointed = point;
        drop(flush);
        // Always rewritten: the file may hold a point past the new end (from this run or the last).
        let written = self.write_checkpoint();
        result?;
        written?;
        Ok(point)
    }

    /// fsyncs the segments holding offsets at or after `from`; returns the high watermark they
    /// cover and the unflushed byte count the round accounts for.
    fn fsync_round(&self, from: i64) -> Result<(i64, u64)> {
        // Read before the high watermark: bytes appended in between are fsynced but stay counted
        // as unflushed, which at worst triggers one extra flush, never a missed one.
        let unflushed = self.group_commit.unflushed_bytes.load(Ordering::Acquire);
        let (point, files) = {
            let state = self.state.read();
            // No segments at all once a clean close has let them go (a flush that raced it).
            let active = state.segments.keys().next_back().copied();
            let files: Vec<(Arc<File>, PathBuf)> = state
                .segments
                .values()
                .filter(|s| s.next_offset() > from || Some(s.base_offset) == active)
                .flat_map(|s| s.sync_handles(Some(s.base_offset) != active).into_iter().map(|f| (f, s.log_path().to_path_buf())))
                .collect();
            (state.high_watermark, files)
        };
        let started = Instant::now();
        let synced = !files.is_empty();
        for (file, path) in files {
            file.sync_data().ctx(|| format!("fsync {}", path.display()))?;
        }
        if synced {
            fsync_latency::observe(started.elapsed());
        }
        self.group_commit.fsync_rounds.fetch_add(1, Ordering::Relaxed);
        Ok((point, unflushed))
    }

    /// Base offset of the segment that holds `offset` (for deciding when to checkpoint).
    fn segment_of(&self, offset: i64) -> Option<i64> {
        self.state.read().segments.range(..=offset).next_back().map(|(b, _)| *b)
    }

    /// Counts `bytes` just appended as unflushed, and wakes the flusher once they reach the byte
    /// policy's threshold.
    pub(crate) fn note_unflushed(&self, bytes: u64) {
        let commit = &self.group_commit;
        if commit.unflushed_bytes.fetch_add(bytes, Ordering::AcqRel) == 0 {
            commit.unflushed_since_us.store(flusher::now_us(), Ordering::Release);
        }
        if self.config.read().flush_interval_bytes.is_some_and(|limit| commit.unflushed_bytes.load(Ordering::Acquire) >= limit) {
            flusher::wake();
        }
    }

    /// For the flusher: None when nothing is unflushed or there is no policy, Some(0) when a flush
    /// is due now, else Some(µs until the time policy makes it due).
    pub(crate) fn flush_due_in_us(&self, now_us: u64) -> Option<u64> {
        let commit = &self.group_commit;
        let bytes = commit.unflushed_bytes.load(Ordering::Acquire);
        if bytes == 0 {
            return None;
        }
        let config = self.config.read();
        if config.flush_interval_bytes.is_some_and(|limit| bytes >= limit) {
            return Some(0);
        }
        let interval_us = config.flush_interval_ms? * 1000;
        let since = commit.unflushed_since_us.load(Ordering::Acquire);
        Some((since + interval_us).saturating_sub(now_us))
    }
}
