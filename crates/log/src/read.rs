//! Reading a log: a slice of whole batches as file ranges (what the transfer engine sends with
//! sendfile and what a copying read copies), bounded by the high watermark or another offset, and
//! the searches by time (the first batch at or after a timestamp, the batch holding the largest
//! one). Readers take the state read lock only to look up segments and indexes, then read files
//! through their own `Arc<File>`: a segment retention or a truncation deletes stays readable for a
//! slice that holds its file.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{IoContext, LogError, Result};
use crate::file_records::{read_fully_at, HeaderScanner};
use crate::log::Log;

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
    /// The offset the slice was asked for.
    pub offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

impl Slice {
    pub fn bytes(&self) -> u64 {
        self.ranges.iter().map(|r| r.bytes).sum()
    }

    /// Where the next fetch starts: the offset after the last batch, or the offset asked for when
    /// the slice is empty (at the log end, or below a bound no whole batch fits under).
    pub fn next_offset(&self) -> i64 {
        self.ranges.last().map_or(self.offset, |r| r.next_offset)
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

impl Log {
    /// The file ranges that answer a fetch at `offset`: from the start of the batch holding
    /// `offset`, whole batches, at most `max_bytes` in total but always at least one batch,
    /// below the high watermark. An offset equal to the high watermark gives no ranges.
    /// `OFFSET_OUT_OF_RANGE` outside `[logStartOffset, highWatermark]`.
    pub fn slice(&self, offset: i64, max_bytes: u64) -> Result<Slice> {
        self.slice_until(offset, max_bytes, i64::MAX)
    }

    /// `slice`, bounded by `max_offset` too: only whole batches that end at or below it (next offset
    /// <= `max_offset`; a batch straddling it is left out, and so may the first one be, even with
    /// `max_bytes` 0). For a replicated log's consumers, who read below the high watermark, which
    /// sits below the log end. An `offset` at or past `max_offset` gives no ranges; out of range is
    /// still judged against `[logStartOffset, highWatermark]` (the log end).
    pub fn slice_until(&self, offset: i64, max_bytes: u64, max_offset: i64) -> Result<Slice> {
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
            if offset >= max_offset {
                return Ok(Slice { ranges: Vec::new(), offset, high_watermark: hw, log_start_offset: start });
            }
            let mut views = Vec::new();
            let mut reach = 0u64;
            let floor = state.segments.range(..=offset).next_back().map_or(start, |(b, _)| *b);
            for segment in state.segments.range(floor..).map(|(_, s)| s) {
                if segment.next_offset() <= offset {
                    continue;
                }
                if segment.base_offset >= max_offset {
                    break;
                }
                let scan_from = if views.is_empty() { segment.lookup(offset) } else { 0 };
                let mut skip_to = segment.lookup_by_position(scan_from.saturating_add(max_bytes));
                let bounded = max_offset < segment.next_offset();
                if bounded {
                    // Batches skipped over end at the entry's offset: never past the bound. Of the
                    // entry within budget and the one at or below the bound, the earlier.
                    skip_to = match (skip_to, segment.lookup_entry(max_offset)) {
                        (Some(by_bytes), Some(by_bound)) => Some(if by_bytes.1 <= by_bound.1 { by_bytes } else { by_bound }),
                        _ => None,
                    };
                }
                let skip_to = skip_to.filter(|(_, p)| *p > scan_from);
                reach += segment.size() - scan_from;
                views.push(View {
                    file: segment.log_file().clone(),
                    path: segment.log_path().to_path_buf(),
                    base_offset: segment.base_offset,
                    size: segment.size(),
                    scan_from,
                    skip_to,
                });
                if reach >= max_bytes || bounded {
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
            // Out of budget or at the bound: nothing further, in this segment or the next.
            let mut stop = false;
            // Batches wholly between `start` and an index entry within budget need no header reads.
            if let Some((entry_offset, p)) = view.skip_to.filter(|(_, p)| *p > start && *p - start <= budget) {
                scanner = HeaderScanner::new(&view.file, p, view.size);
                next_offset = entry_offset;
            }
            while let Some(h) = scanner.peek()? {
                let end = scanner.position() + h.size_bytes as u64;
                let first_batch_of_slice = ranges.is_empty() && scanner.position() == start;
                if h.next_offset() > max_offset || (end - start > budget && !first_batch_of_slice) {
                    stop = true;
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
            if stop || budget == 0 {
                break;
            }
        }
        Ok(Slice { ranges, offset, high_watermark, log_start_offset })
    }

    /// The bytes `slice(offset, max_bytes)` names, copied into a buffer, with the slice.
    pub fn read(&self, offset: i64, max_bytes: u64) -> Result<(Vec<u8>, Slice)> {
        self.read_until(offset, max_bytes, i64::MAX)
    }

    /// The bytes `slice_until(offset, max_bytes, max_offset)` names, copied into a buffer, with the slice.
    pub fn read_until(&self, offset: i64, max_bytes: u64, max_offset: i64) -> Result<(Vec<u8>, Slice)> {
        let slice = self.slice_until(offset, max_bytes, max_offset)?;
        Ok((slice.read_all()?, slice))
    }

    /// The base offset of the first batch at or past the log start whose maxTimestamp is >=
    /// `timestamp`, or None when every such batch is older. Batch granularity: the core never
    /// decodes records (the broker walks the batch's records for the exact one).
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<i64>> {
        let (log_start_offset, candidates) = {
            let state = self.state.read();
            self.ensure_open()?;
            let start = state.log_start_offset;
            let candidates: Vec<(Arc<File>, u64, u64)> = state
                .segments
                .values()
                .filter(|s| s.next_offset() > start && s.max_timestamp() >= timestamp)
                .map(|s| (s.log_file().clone(), s.lookup_timestamp(timestamp), s.size()))
                .collect();
            (start, candidates)
        };
        for (file, from, size) in candidates {
            let mut scanner = HeaderScanner::new(&file, from, size);
            while let Some((_, h)) = scanner.next_batch()? {
                if h.max_timestamp >= timestamp && h.next_offset() > log_start_offset {
                    return Ok(Some(h.base_offset));
                }
            }
        }
        Ok(None)
    }

    /// The first batch (by offset, at or past the log start) whose maxTimestamp is the largest in
    /// the log, as (base offset, that timestamp); None for an empty log. Kafka's MAX_TIMESTAMP
    /// (KIP-734) answers the first record carrying the largest timestamp: it is in this batch.
    /// Segments' indexed max timestamps pick the segment; only the segment holding the log start
    /// is scanned whole, since its max may belong to batches below the start.
    pub fn batch_with_max_timestamp(&self) -> Result<Option<(i64, i64)>> {
        let (log_start_offset, segments) = {
            let state = self.state.read();
            self.ensure_open()?;
            let start = state.log_start_offset;
            let segments: Vec<(Arc<File>, u64, u64, i64, bool)> = state
                .segments
                .values()
                .filter(|s| s.next_offset() > start)
                .map(|s| {
                    let holds_start = s.base_offset < start;
                    (s.log_file().clone(), if holds_start { s.lookup(start) } else { 0 }, s.size(), s.max_timestamp(), holds_start)
                })
                .collect();
            (start, segments)
        };
        // The first segment's own max when it holds the start; the others' come from their indexes.
        let mut best: Option<(i64, usize)> = None;
        let mut first_scan: Option<(i64, i64)> = None;
        for (i, (file, from, size, max_timestamp, holds_start)) in segments.iter().enumerate() {
            let max_timestamp = if *holds_start {
                first_scan = first_batch_with_max(file, *from, *size, log_start_offset, None)?;
                first_scan.map_or(i64::MIN, |(_, ts)| ts)
            } else {
                *max_timestamp
            };
            if best.is_none_or(|(ts, _)| max_timestamp > ts) {
                best = Some((max_timestamp, i));
            }
        }
        let Some((max_timestamp, i)) = best else { return Ok(None) };
        let (file, from, size, _, holds_start) = &segments[i];
        if *holds_start {
            return Ok(first_scan);
        }
        first_batch_with_max(file, *from, *size, log_start_offset, Some(max_timestamp))
    }
}

/// Scans the batches of `file` in [from, size) that end past `log_start_offset`: the first batch
/// whose maxTimestamp is `target` (or, with no target, the largest), as (base offset, timestamp).
fn first_batch_with_max(file: &File, from: u64, size: u64, log_start_offset: i64, target: Option<i64>) -> Result<Option<(i64, i64)>> {
    let mut scanner = HeaderScanner::new(file, from, size);
    let mut best: Option<(i64, i64)> = None;
    while let Some((_, h)) = scanner.next_batch()? {
        if h.next_offset() <= log_start_offset {
            continue;
        }
        if target == Some(h.max_timestamp) {
            return Ok(Some((h.base_offset, h.max_timestamp)));
        }
        if target.is_none() && best.is_none_or(|(_, ts)| h.max_timestamp > ts) {
            best = Some((h.base_offset, h.max_timestamp));
        }
    }
    Ok(best)
}
