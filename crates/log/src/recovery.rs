//! Loading a partition's directory into segments (Kafka's LogLoader): list the segment files and
//! clear leftovers of interrupted operations, scan the segments an unclean stop may have torn,
//! truncate at the first bad batch, delete whatever follows a cut or a gap in offsets, and hand
//! `Log::open` the segments, ready for appends, with a report of what was found and done.
//!
//! The loader knows nothing of `Log`: it works on files and `Segment`s only, so `Log::open` is left
//! with building the log around what it returns and making that durable.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::{IoContext, Result};
use crate::segment::{segment_file, Segment, SegmentRecovery, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX};

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

/// A loaded directory: never empty, every segment sealed but the last, which takes appends.
pub(crate) struct LoadedSegments {
    pub(crate) segments: BTreeMap<i64, Segment>,
    pub(crate) report: OpenReport,
    /// Offset below which the segments are known to be fsynced. Segments before the first scanned
    /// one were fsynced before the stop; the scanned ones may hold page-cache-only bytes of the
    /// last run, so the log's first flush must cover them.
    pub(crate) recovery_point: i64,
}

/// Loads the segments in `dir` (created if missing), recovering them if the last run did not
/// close cleanly. Blocking: scans segments after an unclean stop.
pub(crate) fn load(dir: &Path, config: &LogConfig) -> Result<LoadedSegments> {
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
        let (mut segment, indexes_exist) = Segment::open(dir, base, config, last)?;
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
        segments.insert(0, Segment::create(dir, 0, config)?);
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
    let high_watermark = segments.values().next_back().unwrap().next_offset();
    let recovery_point = report.recovered.iter().map(|r| r.base_offset).min().unwrap_or(high_watermark);
    // The deletions must survive a crash before anything new lands beside them.
    if !report.deleted_segments.is_empty() {
        checkpoint::sync_dir(dir).ctx(|| format!("fsync {}", dir.display()))?;
    }
    Ok(LoadedSegments { segments, report, recovery_point })
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

/// Removes a segment's files that exist; used for segments that were never opened, so there is
/// no `Segment` to call `delete_files` on.
fn delete_segment_files(dir: &Path, base: i64) -> Result<()> {
    for suffix in [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX] {
        let path = segment_file(dir, base, suffix);
        if path.exists() {
            fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        }
    }
    Ok(())
}
