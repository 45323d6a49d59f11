//! Tests of the whole log through real files in temporary directories: rolls, reads, recovery
//! after torn and corrupted tails, index rebuilds, retention, group commit, background flush.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::batch::tests::make_batch;
use crate::batch::BatchHeader;
use crate::config::LogConfig;
use crate::log::Log;
use crate::segment::segment_file;

pub(crate) fn small_config() -> LogConfig {
    LogConfig { segment_bytes: 4096, index_interval_bytes: 256, max_index_bytes: 4096, ..LogConfig::default() }
}

/// Appends `n` batches of 1-3 records with growing timestamps; returns their (base, size).
pub(crate) fn fill(log: &Log, n: usize, ts0: i64) -> Vec<(i64, usize)> {
    (0..n)
        .map(|i| {
            let mut b = make_batch(1 + (i % 3) as i32, 20 + i % 50, ts0 + i as i64);
            let info = log.append(&mut b, 0).unwrap();
            (info.base_offset, b.len())
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// Reads the whole log back and checks every batch: contiguous offsets from the log start.
fn check_contiguous(log: &Log) -> i64 {
    let mut offset = log.log_start_offset();
    while offset < log.high_watermark() {
        let (bytes, _) = log.read(offset, 1 << 20).unwrap();
        let headers = crate::validate_batches(&bytes, 1 << 20).unwrap();
        for h in headers {
            assert_eq!(h.base_offset, offset);
            offset = h.next_offset();
        }
    }
    assert_eq!(log.verify(), Vec::<String>::new(), "the indexes agree with the log");
    offset
}

#[test]
fn rolls_on_segment_bytes_and_reads_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (log, report) = Log::open(dir.path(), small_config()).unwrap();
    assert!(report.recovered.is_empty() || report.recovered.iter().all(|r| r.truncated_bytes == 0));
    let batches = fill(&log, 300, 1000);
    let bases = log.segment_bases();
    assert!(bases.len() > 5, "expected many segments, got {}", bases.len());
    for b in &bases {
        let size = fs::metadata(segment_file(dir.path(), *b, "log")).unwrap().len();
        assert!(size <= 4096, "segment {b} is {size} bytes");
    }
    assert_eq!(check_contiguous(&log), log.high_watermark());
    // every offset reads back starting with the batch that holds it
    for (base, _) in &batches {
        let (bytes, _) = log.read(*base, 0).unwrap();
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(h.base_offset, *base);
        assert_eq!(bytes.len(), h.size_bytes, "max_bytes 0 still returns exactly one batch");
    }
}

#[test]
fn rolls_on_segment_ms_from_the_first_batch_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_ms: 1000, ..small_config() };
    let (log, _) = Log::open(dir.path(), config).unwrap();
    for ts in [0, 500, 1000] {
        log.append(&mut make_batch(1, 1, ts), 0).unwrap();
    }
    assert_eq!(log.segment_bases(), vec![0]);
    log.append(&mut make_batch(1, 1, 1001), 0).unwrap();
    assert_eq!(log.segment_bases(), vec![0, 3]);
}

#[test]
fn rolls_when_the_index_is_full() {
    let dir = tempfile::tempdir().unwrap();
    // room for two offset entries (16 bytes) and one time entry (12 bytes); every batch indexed
    let config = LogConfig { index_interval_bytes: 0, max_index_bytes: 16, segment_bytes: 1 << 20, ..LogConfig::default() };
    let (log, _) = Log::open(dir.path(), config).unwrap();
    for i in 0..3 {
        log.append(&mut make_batch(1, 1, i), 0).unwrap();
    }
    // batch 0 is not indexed; batch 1 fills the 12-byte-capacity time index (1 entry)
    assert_eq!(log.segment_bases(), vec![0, 2]);
}

#[test]
fn rolls_before_relative_offsets_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let huge = || {
        let mut b = make_batch(1, 1, 0);
        // claim i32::MAX records: the header is what the log trusts for offsets (compressed, as
        // only a compressed batch can plausibly hold that many in a few bytes)
        b[22] = 4;
        b[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    };
    log.append(&mut huge(), 0).unwrap();
    log.append(&mut huge(), 0).unwrap();
    assert_eq!(log.segment_bases().len(), 1);
    let info = log.append(&mut huge(), 0).unwrap();
    assert_eq!(log.segment_bases(), vec![0, info.base_offset]);
    assert_eq!(info.base_offset, 2 * i32::MAX as i64);
}

#[test]
fn slices_start_and_end_on_batch_boundaries_below_the_high_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 200, 0);
    let hw = log.high_watermark();
    for max_bytes in [0u64, 1, 100, 700, 5000, 100_000] {
        for (i, (base, _)) in batches.iter().enumerate().step_by(7) {
            for offset in [*base, base + 1] {
                if offset >= hw {
                    continue;
                }
                let slice = log.slice(offset, max_bytes).unwrap();
                let bytes = slice.read_all().unwrap();
                for r in &slice.ranges {
                    let mut piece = vec![0u8; r.bytes as usize];
                    crate::file_records::read_fully_at(&r.file, &mut piece, r.position).unwrap();
                    let hs = crate::validate_batches(&piece, 1 << 20).unwrap();
                    assert_eq!(hs[0].base_offset, r.first_offset);
                    assert_eq!(hs.last().unwrap().next_offset(), r.next_offset, "range end offset at {offset}/{max_bytes}");
                }
                let headers = crate::validate_batches(&bytes, 1 << 20).unwrap();
                let holder = batches.iter().rev().find(|(b, _)| *b <= offset).unwrap();
                assert_eq!(headers[0].base_offset, holder.0, "starts at the batch holding {offset}");
                assert!(bytes.len() as u64 <= max_bytes.max(headers[0].size_bytes as u64));
                // maximal: the next batch would not have fitted (unless it is in a later segment call)
                let end = headers.last().unwrap().next_offset();
                assert!(end <= hw);
                if let Some((_, next_size)) = batches.iter().find(|(b, _)| *b == end) {
                    assert!(bytes.len() + next_size > max_bytes as usize, "slice at {offset} of {max_bytes} stopped early (batch {i})");
                }
            }
        }
    }
    assert!(log.slice(hw, 100).unwrap().ranges.is_empty());
    assert_eq!(log.slice(hw + 1, 100).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(log.slice(-1, 100).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
}

#[test]
fn rejected_appends_leave_the_files_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    fill(&log, 10, 0);
    let before = fs::read(segment_file(dir.path(), 0, "log")).unwrap();
    let mut good_then_bad = make_batch(2, 10, 0);
    let mut bad = make_batch(1, 10, 0);
    *bad.last_mut().unwrap() ^= 1;
    good_then_bad.extend(&bad);
    assert_eq!(log.append(&mut good_then_bad, 0).unwrap_err().code(), "CORRUPT_MESSAGE");
    assert_eq!(fs::read(segment_file(dir.path(), 0, "log")).unwrap(), before);
    assert_eq!(&good_then_bad[0..8], &0i64.to_be_bytes(), "a rejected append stamps nothing");
    assert_eq!(log.high_watermark(), fill(&log, 1, 0)[0].0);
}

#[test]
fn clean_close_reopens_without_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    fill(&log, 120, 0);
    let hw = log.high_watermark();
    let bases = log.segment_bases();
    let indexes: Vec<_> = bases.iter().map(|b| log.index_entries(*b).unwrap()).collect();
    log.close().unwrap();
    assert_eq!(log.append(&mut make_batch(1, 1, 0), 0).unwrap_err().code(), "LOG_CLOSED");
    assert!(log.segment_bases().is_empty(), "a closed log has let its segment files go");
    drop(log);
    let (log, report) = Log::open(dir.path(), small_config()).unwrap();
    assert!(report.clean_shutdown);
    assert!(report.recovered.is_empty(), "a clean log is not scanned: {:?}", report.recovered);
    assert_eq!(log.high_watermark(), hw);
    assert_eq!(log.segment_bases(), bases);
    for (k, (b, (offsets, times))) in bases.iter().zip(&indexes).enumerate() {
        let (reopened_offsets, reopened_times) = log.index_entries(*b).unwrap();
        assert_eq!(&reopened_offsets, offsets);
        if k + 1 < bases.len() {
            assert_eq!(&reopened_times, times);
        } else {
            // sealing at close may add the active segment's final time-index entry
            assert!(reopened_times.starts_with(times) && reopened_times.len() <= times.len() + 1, "{reopened_times:?} vs {times:?}");
        }
    }
    assert_eq!(check_contiguous(&log), hw);
    // and it keeps appending where it left off
    assert_eq!(log.append(&mut make_batch(1, 1, 0), 0).unwrap().base_offset, hw);
}

#[test]
fn recovery_truncates_at_every_position_inside_the_last_batches() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("orig");
    let (log, _) = Log::open(&original, LogConfig { segment_bytes: 1 << 20, ..small_config() }).unwrap();
    let batches = fill(&log, 40, 0);
    drop(log); // an unclean stop: no marker
    let active = segment_file(&original, 0, "log");
    let total = fs::metadata(&active).unwrap().len() as usize;
    let tail_start = total - batches[37].1 - batches[38].1 - batches[39].1;
    for cut in tail_start..total {
        let trial = dir.path().join(format!("cut{cut}"));
        copy_dir(&original, &trial);
        fs::OpenOptions::new().write(true).open(segment_file(&trial, 0, "log")).unwrap().set_len(cut as u64).unwrap();
        let (log, report) = Log::open(&trial, small_config()).unwrap();
        // the whole batches before the cut survive, nothing else
        let mut end = 0usize;
        let mut expected_hw = 0;
        for (base, size) in &batches {
            if end + size > cut {
                break;
            }
            end += size;
            expected_hw = base + (make_batch_records(*base, &batches));
        }
        assert_eq!(log.high_watermark(), expected_hw, "cut at {cut}");
        assert_eq!(report.truncated_bytes(), (cut - end) as u64);
        assert_eq!(fs::metadata(segment_file(&trial, 0, "log")).unwrap().len(), end as u64);
        assert_eq!(check_contiguous(&log), expected_hw);
        drop(log);
        fs::remove_dir_all(&trial).unwrap();
    }
}

/// Records in the batch with base `base` (the next batch's base minus this one).
fn make_batch_records(base: i64, batches: &[(i64, usize)]) -> i64 {
    let i = batches.iter().position(|(b, _)| *b == base).unwrap();
    1 + (i % 3) as i64
}

#[test]
fn recovery_truncates_at_a_corrupted_batch() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("orig");
    let (log, _) = Log::open(&original, LogConfig { segment_bytes: 1 << 20, ..small_config() }).unwrap();
    let batches = fill(&log, 30, 0);
    drop(log);
    let mut starts = vec![0usize];
    for (_, size) in &batches {
        starts.push(starts.last().unwrap() + size);
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for trial_no in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let victim = 25 + (seed % 5) as usize;
        let within = (seed >> 8) as usize % batches[victim].1;
        let bit = 1u8 << ((seed >> 40) % 8);
        let trial = dir.path().join(format!("flip{trial_no}"));
        copy_dir(&original, &trial);
        let path = segment_file(&trial, 0, "log");
        let mut bytes = fs::read(&path).unwrap();
        bytes[starts[victim] + within] ^= bit;
        fs::write(&path, &bytes).unwrap();
        let (log, _) = Log::open(&trial, small_config()).unwrap();
        let undetectable = (12..16).contains(&within); // partitionLeaderEpoch: not under the CRC
        let expected = if undetectable { batches.last().unwrap().0 + make_batch_records(batches[29].0, &batches) } else { batches[victim].0 };
        assert_eq!(log.high_watermark(), expected, "flip at byte {within} of batch {victim}");
        assert_eq!(check_contiguous(&log), expected);
        drop(log);
        fs::remove_dir_all(&trial).unwrap();
    }
}

#[test]
fn rebuilt_indexes_equal_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    fill(&log, 150, 5_000);
    let bases = log.segment_bases();
    let originals: Vec<_> = bases.iter().map(|b| log.index_entries(*b).unwrap()).collect();
    assert!(originals.iter().any(|(o, t)| o.len() > 3 && t.len() > 3), "the test needs real index entries");
    drop(log); // unclean: the active segment's index is rebuilt
    // and the sealed segments' indexes are damaged or lost
    fs::remove_file(segment_file(dir.path(), bases[0], "index")).unwrap();
    fs::write(segment_file(dir.path(), bases[1], "timeindex"), [0xffu8; 36]).unwrap();
    fs::write(segment_file(dir.path(), bases[2], "index"), [0u8; 64]).unwrap();
    let (log, report) = Log::open(dir.path(), small_config()).unwrap();
    let rebuilt: Vec<i64> = report.recovered.iter().map(|r| r.base_offset).collect();
    for b in [bases[0], bases[1], bases[2], *bases.last().unwrap()] {
        assert!(rebuilt.contains(&b), "segment {b} should have been rebuilt: {rebuilt:?}");
    }
    for (b, original) in bases.iter().zip(&originals) {
        assert_eq!(&log.index_entries(*b).unwrap(), original, "segment {b}");
    }
    assert_eq!(report.truncated_bytes(), 0);
    assert_eq!(log.verify(), Vec::<String>::new());
}

#[test]
fn verify_reports_index_entries_that_miss_the_log() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    fill(&log, 40, 5_000);
    assert_eq!(log.verify(), Vec::<String>::new());
    let base = *log.segment_bases().first().unwrap();
    let (offsets, _) = log.index_entries(base).unwrap();
    assert!(!offsets.is_empty(), "the test needs an index entry");
    // Move the first entry's position by one byte, underneath the log (the index is mmap'd shared).
    let file = fs::OpenOptions::new().write(true).open(segment_file(dir.path(), base, "index")).unwrap();
    file.write_all_at(&(offsets[0].1 + 1).to_be_bytes(), 4).unwrap();
    let problems = log.verify();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("is not a batch start"), "{problems:?}");
}

#[test]
fn offset_for_timestamp_finds_the_first_batch_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 200, 10_000); // batch i has maxTimestamp 10_000 + i
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some(0));
    for i in [0usize, 1, 57, 130, 199] {
        assert_eq!(log.offset_for_timestamp(10_000 + i as i64).unwrap(), Some(batches[i].0));
    }
    assert_eq!(log.offset_for_timestamp(10_200).unwrap(), None);
}

#[test]
fn retention_deletes_old_segments_by_bytes_and_by_age_but_never_the_active_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { retention_bytes: 10_000, retention_ms: -1, ..small_config() };
    let (log, _) = Log::open(dir.path(), config).unwrap();
    fill(&log, 300, 0);
    let before = log.stats();
    let slice = log.slice(0, 1000).unwrap(); // a reader holding the first segment
    let report = log.enforce_retention(0).unwrap();
    let after = log.stats();
    assert!(!report.deleted_segments.is_empty());
    assert!(after.size_bytes <= 10_000 + 4096 && after.size_bytes > 10_000 - 4096, "{}", after.size_bytes);
    assert_eq!(after.size_bytes + report.deleted_bytes, before.size_bytes);
    assert_eq!(after.log_start_offset, log.segment_bases()[0]);
    assert!(!segment_file(dir.path(), 0, "log").exists());
    assert_eq!(log.read(0, 10).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(crate::validate_batches(&slice.read_all().unwrap(), 1 << 20).unwrap()[0].base_offset, 0, "an open slice still reads a deleted segment");
    assert_eq!(check_contiguous(&log), log.high_watermark());

    // by age: batch timestamps are 0..300; at now = 1000 with retentionMs 800 everything older
    // than 200 goes, except the active segment.
    drop(log);
    let (log, _) = Log::open(dir.path(), LogConfig { retention_bytes: -1, retention_ms: 800, ..small_config() }).unwrap();
    log.enforce_retention(1000).unwrap();
    let start = log.log_start_offset();
    let (bytes, _) = log.read(start, 0).unwrap();
    assert!(BatchHeader::parse(&bytes).unwrap().max_timestamp >= 150, "young segments stay");
    log.enforce_retention(1_000_000).unwrap();
    assert_eq!(log.segment_bases().len(), 1, "the active segment stays");
}

#[test]
fn concurrent_flushes_share_fsync_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    let start = log.stats();
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let info = log.append(&mut make_batch(1, 100, 0), 0).unwrap();
                    let point = log.flush().unwrap();
                    assert!(point > info.last_offset, "flush returned before covering the append");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let stats = log.stats();
    let calls = stats.flush_calls - start.flush_calls;
    let rounds = stats.fsync_rounds - start.fsync_rounds;
    assert_eq!(calls, 320);
    assert!(rounds < calls, "group commit: {rounds} fsync rounds for {calls} flushes");
    assert_eq!(stats.recovery_point, stats.high_watermark);
}

#[test]
fn fsync_rounds_are_timed_process_wide() {
    // Other tests flush on other threads of this process: only what one round adds is certain.
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
    let before = crate::fsync_latency::snapshot();
    log.append(&mut make_batch(1, 100, 0), 0).unwrap();
    log.flush().unwrap();
    let after = crate::fsync_latency::snapshot();
    assert!(after.count > before.count, "the round was counted");
    assert!(after.buckets.iter().sum::<u64>() > before.buckets.iter().sum::<u64>(), "in a bucket (it took under 2.5 s)");
    assert!(after.buckets.iter().sum::<u64>() <= after.count, "buckets never count more rounds than the total");
}

#[test]
fn background_flush_policy_flushes_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { flush_interval_bytes: Some(10_000), flush_interval_ms: Some(50), ..LogConfig::default() };
    let (log, _) = Log::open(dir.path(), config).unwrap();
    log.append(&mut make_batch(1, 100, 0), 0).unwrap(); // below the byte threshold: the timer flushes
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.stats().recovery_point < log.high_watermark() {
        assert!(Instant::now() < deadline, "no background flush by time");
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..3 {
        log.append(&mut make_batch(1, 5_000, 0), 0).unwrap(); // past the byte threshold
    }
    while log.stats().recovery_point < log.high_watermark() {
        assert!(Instant::now() < deadline, "no background flush by bytes");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn reconfigure_changes_rolls_batch_limit_and_retention_of_a_live_log_and_refuses_fixed_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig { segment_bytes: 1 << 20, retention_bytes: -1, retention_ms: -1, ..small_config() }).unwrap();
    fill(&log, 50, 0);
    assert_eq!(log.segment_bases().len(), 1, "1 MiB segments: no roll yet");
    assert_eq!(log.enforce_retention(0).unwrap().deleted_segments.len(), 0);

    // Smaller segments from the next append on; then retention by bytes deletes the old ones.
    log.reconfigure(LogConfig { segment_bytes: 4096, retention_bytes: -1, retention_ms: -1, ..small_config() }).unwrap();
    fill(&log, 200, 100);
    let segments = log.segment_bases().len();
    assert!(segments > 3, "rolled at the new size: {segments} segments");
    log.reconfigure(LogConfig { segment_bytes: 4096, retention_bytes: 8192, retention_ms: -1, ..small_config() }).unwrap();
    let report = log.enforce_retention(0).unwrap();
    assert!(report.deleted_segments.len() >= segments - 4, "retention by the new byte limit: {report:?}");
    assert_eq!(check_contiguous(&log), log.high_watermark());

    // A lower batch limit refuses what it used to accept.
    let mut big = make_batch(1, 1000, 0);
    log.reconfigure(LogConfig { max_batch_bytes: 512, retention_bytes: 8192, retention_ms: -1, ..small_config() }).unwrap();
    assert_eq!(log.append(&mut big, 0).unwrap_err().code(), "MESSAGE_TOO_LARGE");
    assert_eq!(log.config().max_batch_bytes, 512);

    // Invalid or fixed settings are refused and change nothing.
    assert_eq!(log.reconfigure(LogConfig { segment_bytes: 1, ..small_config() }).unwrap_err().code(), "INVALID_CONFIG");
    assert_eq!(log.reconfigure(LogConfig { max_index_bytes: 8192, ..small_config() }).unwrap_err().code(), "INVALID_CONFIG");
    assert_eq!(log.config().max_batch_bytes, 512);
}

#[test]
fn delete_records_moves_the_start_inside_a_segment_durably_and_retention_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 300, 1000);
    let bases = log.segment_bases();
    assert!(bases.len() > 3);
    // An offset inside the third segment, not on a batch boundary when the batch has records to spare.
    let (inside, _) = batches.iter().copied().find(|(b, _)| *b > bases[2] && *b + 1 < bases[3]).unwrap();
    let target = inside + 1;
    assert_eq!(log.delete_records_before(target).unwrap(), target);
    assert_eq!(log.log_start_offset(), target);
    // Lower than the start: nothing moves; past the high watermark: out of range.
    assert_eq!(log.delete_records_before(5).unwrap(), target);
    let hw = log.high_watermark();
    assert_eq!(log.delete_records_before(hw + 1).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    // Below the start a read is out of range; at it, the batch holding it comes back.
    assert_eq!(log.slice(target - 1, 1 << 20).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    let (bytes, slice) = log.read(target, 0).unwrap();
    assert_eq!(BatchHeader::parse(&bytes).unwrap().base_offset, inside);
    assert_eq!(slice.log_start_offset, target);
    // A search by time never answers a batch wholly below the start.
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some(inside));

    // A crash (the directory as it is, never closed) keeps the start.
    let crashed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), crashed.path());
    let (reopened, report) = Log::open(crashed.path(), small_config()).unwrap();
    assert!(!report.clean_shutdown);
    assert_eq!(reopened.log_start_offset(), target);
    assert_eq!(reopened.slice(target - 1, 1).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");

    // Retention deletes the segments that end at or below the start, and only those.
    let r = log.enforce_retention(0).unwrap();
    assert_eq!(r.deleted_segments, bases[..2].to_vec());
    assert_eq!(r.log_start_offset, target);
    assert_eq!(log.segment_bases()[0], bases[2]);
    assert_eq!(log.log_start_offset(), target);
    assert_eq!(log.verify(), Vec::<String>::new());

    // Up to the high watermark: everything is gone to readers, and stays gone after a clean close.
    assert_eq!(log.delete_records_before(hw).unwrap(), hw);
    assert_eq!(log.slice(hw, 1 << 20).unwrap().bytes(), 0);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
    assert_eq!(log.batch_with_max_timestamp().unwrap(), None);
    log.close().unwrap();
    drop(log);
    let (reopened, report) = Log::open(dir.path(), small_config()).unwrap();
    assert!(report.clean_shutdown);
    assert_eq!(reopened.log_start_offset(), hw);
    assert_eq!(reopened.high_watermark(), hw);
    let mut b = make_batch(1, 10, 5);
    assert_eq!(reopened.append(&mut b, 0).unwrap().base_offset, hw);
    assert_eq!(reopened.log_start_offset(), hw);
}

#[test]
fn the_batch_with_the_largest_timestamp_is_the_first_to_carry_it_past_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(log.batch_with_max_timestamp().unwrap(), None);
    // Timestamps 1000.. rising, then a peak (9000) twice, then lower ones: the first peak wins.
    let rising = fill(&log, 100, 1000);
    let peak = log.append(&mut make_batch(2, 10, 9000), 0).unwrap().base_offset;
    fill(&log, 50, 2000);
    log.append(&mut make_batch(1, 10, 9000), 0).unwrap();
    fill(&log, 100, 3000);
    assert!(log.segment_bases().len() > 3);
    assert_eq!(log.batch_with_max_timestamp().unwrap(), Some((peak, 9000)));
    // Only the segment holding the start counts its batches from the start: a start past the
    // first peak leaves the second one.
    log.delete_records_before(peak + 2).unwrap();
    let second = log.batch_with_max_timestamp().unwrap().unwrap();
    assert!(second.0 > peak && second.1 == 9000, "{second:?}");
    // With the peaks gone, the largest remaining timestamp's first batch.
    log.delete_records_before(second.0 + 1).unwrap();
    let (base, ts) = log.batch_with_max_timestamp().unwrap().unwrap();
    assert_eq!(ts, 3099);
    assert!(base > second.0);
    assert!(rising.len() == 100);
}
