//! What a follower does to its log, beyond what a leader does (Kafka's follower-side log
//! operations): append the leader's batches as they are (`append_replica`), cut a tail that
//! diverged from the leader's (`truncate_to`), start over empty where the leader's log starts
//! (`truncate_fully_and_start_at`); and the leader epoch that appends stamp, which moves forward
//! while the log is open (`set_leader_epoch`).
//!
//! Truncation and reset are the only operations that move the log end back. They run under
//! `writer` with no fsync round in flight and lower the recovery point with the end (`cut_durably`
//! in `flush`), so neither the recovery point nor its checkpoint ever names an offset past the end;
//! they cut files that readers may hold without harming them (`Segment::truncate_at`), delete whole
//! segments' files after the state lock is released, as retention does (a slice keeps reading its
//! file), and are durable when they return.

use parking_lot::RwLockWriteGuard;

use crate::batch::validate_batches;
use crate::checkpoint;
use crate::error::{IoContext, LogError, Result};
use crate::log::{AppendInfo, Log, State};
use crate::segment::Segment;

impl Log {
    /// The epoch appends stamp into their batches' partitionLeaderEpoch.
    pub fn leader_epoch(&self) -> i32 {
        self.config.read().leader_epoch
    }

    /// Appends after this call stamp `epoch` (a broker became the partition's leader in it). An
    /// epoch below the current one is refused (INVALID_CONFIG): epochs only move forward.
    pub fn set_leader_epoch(&self, epoch: i32) -> Result<()> {
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let mut config = self.config.write();
        if epoch < config.leader_epoch {
            return Err(LogError::InvalidConfig(format!(
                "leader epoch {epoch} is below the log's current epoch {}: epochs only move forward",
                config.leader_epoch
            )));
        }
        config.leader_epoch = epoch;
        Ok(())
    }

    /// Appends batches a leader already wrote (their base offsets and partitionLeaderEpoch set),
    /// byte for byte: validated as `append` validates, then the first must start at the log end
    /// and each next one where the one before it ends, or nothing is written
    /// (OFFSET_OUT_OF_SEQUENCE). Rolls, indexes and counts unflushed bytes as `append` does.
    /// `now_ms` is reported as the append time.
    pub fn append_replica(&self, batches: &[u8], now_ms: i64) -> Result<AppendInfo> {
        let max_batch_bytes = self.config.read().max_batch_bytes;
        let headers = validate_batches(batches, max_batch_bytes)?;
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let end = self.state.read().high_watermark;
        let mut next = end;
        for (i, header) in headers.iter().enumerate() {
            if header.base_offset != next {
                return Err(LogError::OffsetOutOfSequence(format!(
                    "batch {i} starts at offset {} where {next} was expected (the log ends at {end})",
                    header.base_offset
                )));
            }
            next = header.next_offset();
        }
        self.roll_if_needed(&headers, batches.len() as u64)?;
        self.write_and_publish(batches, &headers)?;
        Ok(AppendInfo { base_offset: end, last_offset: next - 1, append_time_ms: now_ms, batches: headers.len() })
    }

    /// Removes every batch at or after `offset` (Kafka's truncateTo: a follower's tail that the
    /// leader does not have). A batch that holds `offset` goes whole: returns the new log end,
    /// its base offset. Later segments are deleted; the segment holding the cut becomes the active
    /// one, appends continue at the new end. An `offset` at or past the end changes nothing;
    /// below the log start: OFFSET_OUT_OF_RANGE (`truncate_fully_and_start_at` is for that). A log
    /// start inside the removed batch (DeleteRecords) comes back to the new end. Durable when it
    /// returns. Slices taken before keep reading what they named, or fail with a storage error.
    pub fn truncate_to(&self, offset: i64) -> Result<i64> {
        let _writer = self.writer.lock();
        self.ensure_open()?;
        let (start, end) = {
            let state = self.state.read();
            (state.log_start_offset, state.high_watermark)
        };
        if offset < start {
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset: start, high_watermark: end });
        }
        if offset >= end {
            return Ok(end);
        }
        let max_index_bytes = self.config.read().max_index_bytes;
        let mut removed: Vec<Segment> = Vec::new();
        let result = self.cut_durably(|| {
            let (holder, position, base) = {
                let state = self.state.read();
                let (holder, segment) = state.segments.range(..=offset).next_back().expect("offset >= log start >= first base");
                let (position, base) = segment.batch_holding(offset)?;
                (*holder, position, base)
            };
            let mut state = self.state.write();
            // A file a reader holds is copied rather than cut; the copy is made with readers let in.
            let copy = if state.segments[&holder].log_file_shared() {
                let reading = RwLockWriteGuard::downgrade(state);
                let copy = reading.segments[&holder].copy_prefix(position)?;
                drop(reading);
                state = self.state.write();
                Some(copy)
            } else {
                None
            };
            // Nothing has changed up to here; from here on a failure takes the log offline.
            let later: Vec<i64> = state.segments.range(holder + 1..).map(|(b, _)| *b).collect();
            removed.extend(later.iter().rev().map(|b| state.segments.remove(b).unwrap()));
            let renamed = copy.is_some();
            let segment = state.segments.get_mut(&holder).unwrap();
            let mut cut = segment.truncate_at(position, base, copy, max_index_bytes);
            if cut.is_ok() && !removed.is_empty() {
                cut = segment.unseal(max_index_bytes);
            }
            // Whatever failed, the state describes the segments as they now are.
            let moved_start = settle_bounds(&mut state);
            let active = state.active().log_file().clone();
            drop(state);
            let durable = cut.and_then(|()| {
                if let Some(start) = moved_start {
                    checkpoint::write_log_start_offset(&self.dir, start)
                        .ctx(|| format!("write the log start offset in {}", self.dir.display()))?;
                }
                // Cut in place, the file's new length must reach the disk (the round syncs data);
                // copied, the rename must.
                active.sync_all().ctx(|| format!("fsync the active segment in {}", self.dir.display()))?;
                if renamed {
                    checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))?;
                }
                Ok(())
            });
            durable.inspect_err(|_| self.go_offline())
        });
        // The removed segments are out of the log either way: their files must not come back at a
        // reopen. Deleted after the cut is durable, newest first: a crash in between leaves them
        // past a gap in offsets, which a reopen deletes.
        let deleted = self.delete_removed(removed);
        result?;
        deleted?;
        Ok(self.high_watermark())
    }

    /// Deletes every segment and starts over with one empty segment at `offset`: log start = log
    /// end = `offset` (Kafka's truncateFullyAndStartAt: a follower whose fetch offset is below the
    /// leader's log start, or an empty replica of a leader whose log starts later). Any offset >= 0,
    /// below or past the current end. Durable when it returns. Slices taken before keep reading
    /// the deleted files. If deleting or creating files fails half way, the log goes offline
    /// (LOG_CLOSED from then on): what is on disk is then a prefix of the old log or the new one,
    /// which a reopen loads.
    pub fn truncate_fully_and_start_at(&self, offset: i64) -> Result<()> {
        let _writer = self.writer.lock();
        self.ensure_open()?;
        if offset < 0 {
            let state = self.state.read();
            return Err(LogError::OffsetOutOfRange { offset, log_start_offset: state.log_start_offset, high_watermark: state.high_watermark });
        }
        let config = self.config();
        self.cut_durably(|| {
            // Files first, newest first, while the state still names the old segments (readers
            // read through their handles): a crash leaves a prefix of the old log, then the new one.
            // The new segment's name may be an old one's, so it is created once they are gone.
            let bases: Vec<i64> = self.state.read().segments.keys().rev().copied().collect();
            let replaced = (|| {
                for base in &bases {
                    let state = self.state.read();
                    state.segments[base].delete_files().ctx(|| format!("delete segment {base} in {}", self.dir.display()))?;
                }
                checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))?;
                Segment::create(&self.dir, offset, &config)
            })();
            let segment = replaced.inspect_err(|_| self.go_offline())?;
            let old = {
                let mut state = self.state.write();
                let old = std::mem::replace(&mut state.segments, [(offset, segment)].into());
                state.high_watermark = offset;
                state.log_start_offset = offset;
                old
            };
            drop(old); // unmaps the old indexes, closes files no slice holds
            // A stored start past `offset` would hide the offsets appended up to it at the next
            // open: the file names the new start.
            checkpoint::write_log_start_offset(&self.dir, offset)
                .ctx(|| format!("write the log start offset in {}", self.dir.display()))
                .and_then(|()| checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display())))
                .inspect_err(|_| self.go_offline())
        })
        .map(|_| ())
    }

    /// Deletes the files of segments already out of the state (newest first), then makes that durable.
    fn delete_removed(&self, removed: Vec<Segment>) -> Result<()> {
        if removed.is_empty() {
            return Ok(());
        }
        for segment in &removed {
            segment.delete_files().ctx(|| format!("delete segment {}", segment.log_path().display()))?;
        }
        checkpoint::sync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))
    }
}

/// After a cut: the end is the active segment's, and a start past it (DeleteRecords inside the
/// removed batch) comes back to it. Returns the start when it moved (its checkpoint then names a
/// start past the end and must be rewritten).
fn settle_bounds(state: &mut State) -> Option<i64> {
    state.high_watermark = state.active().next_offset();
    if state.log_start_offset > state.high_watermark {
        state.log_start_offset = state.high_watermark;
        return Some(state.log_start_offset);
    }
    None
}
