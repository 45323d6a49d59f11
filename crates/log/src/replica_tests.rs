//! Tests of the follower's operations through real files in temporary directories: replica appends
//! of a leader's bytes, truncation (in place and under readers), reset, bounded slices, the leader
//! epoch; each followed by reopening (cleanly and after a kill-style drop) and `verify`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::batch::tests::make_batch;
use crate::batch::BatchHeader;
use crate::checkpoint;
use crate::config::LogConfig;
use crate::log::Log;
use crate::segment::segment_file;
use crate::log_tests::{fill, small_config};


/// Every byte from `from` to the log end, as reads hand them out.
fn bytes_from(log: &Log, from: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.high_watermark() {
        let (bytes, slice) = log.read(offset, 64 * 1024).unwrap();
        out.extend(bytes);
        offset = slice.next_offset();
    }
    out
}

/// Reads the whole log back (contiguous offsets from the batch holding the start) and checks it
/// against its indexes; returns the end.
fn check_consistent(log: &Log) -> i64 {
    let mut offset = log.log_start_offset();
    let mut first = true;
    while offset < log.high_watermark() {
        let (bytes, _) = log.read(offset, 1 << 20).unwrap();
        for h in crate::validate_batches(&bytes, 1 << 20).unwrap() {
            assert!(if first { h.base_offset <= offset && offset < h.next_offset() } else { h.base_offset == offset });
            first = false;
            offset = h.next_offset();
        }
    }
    assert_eq!(log.verify(), Vec::<String>::new(), "the indexes agree with the log");
    let stats = log.stats();
    assert!(stats.recovery_point <= stats.high_watermark, "recovery point {} past the end {}", stats.recovery_point, stats.high_watermark);
    offset
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn epoch_of(batch: &[u8]) -> i32 {
    i32::from_be_bytes(batch[12..16].try_into().unwrap())
}

/// The whole batches of `bytes`, each as its own buffer.
fn split_batches(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut at = 0;
    crate::validate_batches(bytes, 1 << 20)
        .unwrap()
        .iter()
        .map(|h| {
            at += h.size_bytes;
            bytes[at - h.size_bytes..at].to_vec()
        })
        .collect()
}

#[test]
fn set_leader_epoch_stamps_later_appends_and_never_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), LogConfig { leader_epoch: 3, ..small_config() }).unwrap();
    let mut first = make_batch(1, 10, 0);
    log.append(&mut first, 0).unwrap();
    assert_eq!(epoch_of(&first), 3);
    log.set_leader_epoch(5).unwrap();
    assert_eq!(log.leader_epoch(), 5);
    log.set_leader_epoch(5).unwrap(); // the same epoch again: nothing changes
    let mut second = make_batch(2, 10, 0);
    log.append(&mut second, 0).unwrap();
    assert_eq!(epoch_of(&second), 5);
    assert_eq!(log.set_leader_epoch(4).unwrap_err().code(), "INVALID_CONFIG");
    assert_eq!(log.leader_epoch(), 5);
    // Stored as appended: the first batch keeps its epoch.
    let batches = split_batches(&bytes_from(&log, 0));
    assert_eq!(batches.iter().map(|b| epoch_of(b)).collect::<Vec<_>>(), vec![3, 5]);
    // reconfigure keeps the epoch it is given only when it is the log's: it moves by set_leader_epoch.
    log.reconfigure(LogConfig { leader_epoch: 5, retention_ms: -1, ..small_config() }).unwrap();
    assert_eq!(log.reconfigure(LogConfig { leader_epoch: 3, ..small_config() }).unwrap_err().code(), "INVALID_CONFIG");
    log.close().unwrap();
    assert_eq!(log.set_leader_epoch(9).unwrap_err().code(), "LOG_CLOSED");
}

#[test]
fn a_follower_appending_the_leaders_slices_holds_the_same_bytes_before_and_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let (leader, _) = Log::open(&dir.path().join("leader"), small_config()).unwrap();
    fill(&leader, 150, 1000);
    leader.set_leader_epoch(7).unwrap();
    fill(&leader, 150, 2000);
    let leader_bytes = bytes_from(&leader, 0);
    // The follower rolls at its own size: segments differ, bytes do not.
    let follower_config = LogConfig { segment_bytes: 10_000, ..small_config() };
    let (follower, _) = Log::open(&dir.path().join("follower"), follower_config.clone()).unwrap();
    let mut offset = 0;
    let mut budgets = [0u64, 700, 3000, 20_000].into_iter().cycle();
    while offset < leader.high_watermark() {
        let (bytes, slice) = leader.read(offset, budgets.next().unwrap()).unwrap();
        let info = follower.append_replica(&bytes, 42).unwrap();
        assert_eq!((info.base_offset, info.last_offset + 1, info.append_time_ms), (offset, slice.next_offset(), 42));
        assert_eq!(info.batches, crate::validate_batches(&bytes, 1 << 20).unwrap().len());
        offset = slice.next_offset();
    }
    assert_eq!(follower.high_watermark(), leader.high_watermark());
    assert_ne!(follower.segment_bases(), leader.segment_bases());
    assert_eq!(bytes_from(&follower, 0), leader_bytes, "byte-identical, leader epochs included");
    assert!(split_batches(&leader_bytes).iter().any(|b| epoch_of(b) == 7) && follower.leader_epoch() == 0);
    assert_eq!(check_consistent(&follower), leader.high_watermark());
    assert_eq!(follower.stats().size_bytes, leader_bytes.len() as u64);

    // Killed (dropped unclosed, so every segment past the recovery point is scanned), reopened.
    let killed = tempfile::tempdir().unwrap();
    copy_dir(&dir.path().join("follower"), killed.path());
    let (reopened, report) = Log::open(killed.path(), follower_config.clone()).unwrap();
    assert!(!report.clean_shutdown);
    assert_eq!(report.truncated_bytes(), 0);
    assert_eq!(bytes_from(&reopened, 0), leader_bytes);
    check_consistent(&reopened);
    // Closed cleanly, reopened without a scan.
    follower.close().unwrap();
    drop(follower);
    let (reopened, report) = Log::open(&dir.path().join("follower"), follower_config).unwrap();
    assert!(report.clean_shutdown && report.recovered.is_empty());
    assert_eq!(bytes_from(&reopened, 0), leader_bytes);
    check_consistent(&reopened);
}

#[test]
fn replica_appends_out_of_sequence_or_invalid_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (leader, _) = Log::open(&dir.path().join("leader"), small_config()).unwrap();
    fill(&leader, 20, 0);
    let batches = split_batches(&bytes_from(&leader, 0));
    let (follower, _) = Log::open(&dir.path().join("follower"), small_config()).unwrap();
    follower.append_replica(&batches[..3].concat(), 0).unwrap();
    let end = follower.high_watermark();
    let size = follower.stats().size_bytes;
    let refused = |input: &[u8]| {
        let code = follower.append_replica(input, 0).unwrap_err().code();
        assert_eq!((follower.high_watermark(), follower.stats().size_bytes), (end, size), "a refused replica append wrote nothing");
        code
    };
    assert_eq!(refused(&batches[4]), "OFFSET_OUT_OF_SEQUENCE", "a gap");
    assert_eq!(refused(&batches[2]), "OFFSET_OUT_OF_SEQUENCE", "an overlap");
    assert_eq!(refused(&[&batches[3][..], &batches[5][..]].concat()), "OFFSET_OUT_OF_SEQUENCE", "a gap between the batches of one call");
    assert_eq!(refused(&[&batches[3][..], &batches[3][..]].concat()), "OFFSET_OUT_OF_SEQUENCE", "a repeat within one call");
    let mut corrupt = batches[3].clone();
    *corrupt.last_mut().unwrap() ^= 1;
    assert_eq!(refused(&corrupt), "CORRUPT_MESSAGE");
    assert_eq!(refused(&[]), "INVALID_RECORD");
    follower.reconfigure(LogConfig { max_batch_bytes: 61, ..small_config() }).unwrap();
    assert_eq!(refused(&batches[3]), "MESSAGE_TOO_LARGE");
    follower.reconfigure(small_config()).unwrap();
    let info = follower.append_replica(&batches[3..].concat(), 0).unwrap();
    assert_eq!((info.base_offset, info.last_offset + 1), (end, leader.high_watermark()));
    assert_eq!(bytes_from(&follower, 0), bytes_from(&leader, 0));
    check_consistent(&follower);
}

#[test]
fn truncating_inside_a_sealed_segment_deletes_the_later_ones_and_appends_continue_at_the_new_end() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 300, 1000);
    let bases = log.segment_bases();
    assert!(bases.len() > 5);
    // A batch of several records inside the third segment, and an offset inside it.
    let inside = batches.windows(2).find(|w| w[0].0 > bases[2] && w[1].0 < bases[3] && w[1].0 - w[0].0 >= 2).unwrap()[0].0;
    let before = bytes_from(&log, 0);
    let kept = before.len() - bytes_from(&log, inside).len();
    let inode = fs::metadata(segment_file(dir.path(), bases[2], "log")).unwrap().ino();

    assert_eq!(log.truncate_to(inside + 1).unwrap(), inside, "a batch holding the offset goes whole");
    assert_eq!(log.high_watermark(), inside);
    assert_eq!(log.segment_bases(), bases[..3].to_vec());
    for b in &bases[3..] {
        assert!(!segment_file(dir.path(), *b, "log").exists() && !segment_file(dir.path(), *b, "index").exists());
    }
    assert_eq!(fs::metadata(segment_file(dir.path(), bases[2], "log")).unwrap().ino(), inode, "no reader: cut in place");
    assert_eq!(bytes_from(&log, 0), before[..kept].to_vec());
    assert_eq!(log.stats().recovery_point, inside, "durable, and the recovery point not past the end");
    assert_eq!(checkpoint::read_recovery_point(dir.path()), Some(inside));
    assert_eq!(check_consistent(&log), inside);
    assert_eq!(log.truncate_to(inside).unwrap(), inside, "at the end: nothing changes");
    assert_eq!(log.truncate_to(i64::MAX).unwrap(), inside);

    // The cut segment takes appends again, rolls when full, and time lookups see only what is left.
    assert_eq!(log.offset_for_timestamp(5000).unwrap(), None);
    let more = fill(&log, 100, 5000);
    assert_eq!(more[0].0, inside);
    assert_eq!(log.segment_bases()[..3], bases[..3]);
    assert!(log.segment_bases().len() > 4);
    assert_eq!(log.offset_for_timestamp(5000).unwrap(), Some(inside));
    let end = check_consistent(&log);
    assert_eq!(&bytes_from(&log, 0)[..kept], &before[..kept]);

    // Reopened after a kill and after a clean close: the same log.
    let killed = tempfile::tempdir().unwrap();
    copy_dir(dir.path(), killed.path());
    let (reopened, _) = Log::open(killed.path(), small_config()).unwrap();
    assert_eq!((reopened.high_watermark(), bytes_from(&reopened, 0)), (end, bytes_from(&log, 0)));
    check_consistent(&reopened);
    log.close().unwrap();
    let (reopened, report) = Log::open(dir.path(), small_config()).unwrap();
    assert!(report.recovered.is_empty());
    assert_eq!(reopened.high_watermark(), end);
    check_consistent(&reopened);
}

#[test]
fn a_killed_log_reopens_at_the_truncated_end_and_nothing_past_it_comes_back() {
    for (name, offset_of) in [("in the active segment", 0usize), ("in an early segment", 1), ("to the log start", 2)] {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = Log::open(dir.path(), small_config()).unwrap();
        let batches = fill(&log, 200, 0);
        let bases = log.segment_bases();
        let target = match offset_of {
            0 => batches[batches.len() - 3].0,
            1 => batches.iter().find(|(b, _)| *b > bases[1]).unwrap().0,
            _ => 0,
        };
        let kept = bytes_from(&log, 0)[..bytes_from(&log, 0).len() - bytes_from(&log, target).len()].to_vec();
        assert_eq!(log.truncate_to(target).unwrap(), target, "{name}");
        drop(log); // killed: no clean-shutdown marker, the recovery point decides what is scanned
        let (reopened, report) = Log::open(dir.path(), small_config()).unwrap();
        assert!(!report.clean_shutdown);
        assert_eq!(reopened.high_watermark(), target, "{name}: nothing past the cut came back");
        assert_eq!(bytes_from(&reopened, 0), kept, "{name}");
        check_consistent(&reopened);
        // New appends land at the cut and survive another kill; the old tail stays gone.
        let mut b = make_batch(2, 33, 77);
        assert_eq!(reopened.append(&mut b, 0).unwrap().base_offset, target);
        drop(reopened);
        let (again, _) = Log::open(dir.path(), small_config()).unwrap();
        assert_eq!(again.high_watermark(), target + 2, "{name}");
        assert_eq!(bytes_from(&again, target), b, "{name}");
        check_consistent(&again);
    }
}

#[test]
fn truncation_under_readers_copies_the_cut_segment_and_the_readers_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 200, 0);
    let bases = log.segment_bases();
    let holder = bases[bases.len() - 3];
    let target = batches.iter().find(|(b, _)| *b > holder).unwrap().0;
    // Slices over the cut segment (its tail) and over a segment the cut deletes.
    let over_cut = log.slice(target, 1 << 20).unwrap();
    let over_deleted = log.slice(*bases.last().unwrap(), 1 << 20).unwrap();
    let (cut_bytes, deleted_bytes) = (over_cut.read_all().unwrap(), over_deleted.read_all().unwrap());
    let inode = fs::metadata(segment_file(dir.path(), holder, "log")).unwrap().ino();
    assert_eq!(log.truncate_to(target).unwrap(), target);
    assert_ne!(fs::metadata(segment_file(dir.path(), holder, "log")).unwrap().ino(), inode, "a held file is replaced, not cut");
    assert!(!segment_file(dir.path(), holder, "log.tmp").exists());
    assert_eq!(over_cut.read_all().unwrap(), cut_bytes, "a slice taken before reads what it named");
    assert_eq!(over_deleted.read_all().unwrap(), deleted_bytes);
    check_consistent(&log);
    // Appends after the cut go to the new file; the old slice still reads the old bytes.
    fill(&log, 30, 9000);
    assert_eq!(over_cut.read_all().unwrap(), cut_bytes);
    let end = check_consistent(&log);
    drop(over_cut);
    drop(log);
    let (reopened, _) = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(reopened.high_watermark(), end);
    check_consistent(&reopened);
}

#[test]
fn truncation_below_the_start_is_refused_and_a_start_inside_the_cut_batch_comes_back_durably() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let batches = fill(&log, 100, 0);
    let inside = batches.windows(2).find(|w| w[1].0 - w[0].0 == 3 && w[0].0 > 50).unwrap()[0].0;
    log.delete_records_before(inside + 1).unwrap();
    let end = log.high_watermark();
    assert_eq!(log.truncate_to(inside).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(log.high_watermark(), end, "refused: nothing changed");
    // At the start, which sits inside a batch: the batch goes, the start comes back to the new end.
    assert_eq!(log.truncate_to(inside + 1).unwrap(), inside);
    assert_eq!((log.log_start_offset(), log.high_watermark()), (inside, inside));
    assert_eq!(checkpoint::read_log_start_offset(dir.path()), Some(inside));
    check_consistent(&log);
    // Appends past the old start are all readable, after a kill too (the stored start was rewritten).
    fill(&log, 10, 500);
    drop(log);
    let (reopened, _) = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!(reopened.log_start_offset(), inside);
    let (bytes, _) = reopened.read(inside, 0).unwrap();
    assert_eq!(BatchHeader::parse(&bytes).unwrap().base_offset, inside);
    check_consistent(&reopened);
}

#[test]
fn truncations_racing_flushes_never_leave_the_recovery_point_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                log.flush().unwrap();
            }
        })
    };
    for round in 0..100 {
        let batches = fill(&log, 12, round * 100);
        log.truncate_to(batches[4 + round as usize % 7].0).unwrap();
        let end = log.high_watermark();
        assert!(log.stats().recovery_point <= end, "round {round}: recovery point {} past {end}", log.stats().recovery_point);
        assert!(checkpoint::read_recovery_point(dir.path()).unwrap() <= end, "round {round}: the checkpoint past the end");
    }
    stop.store(true, Ordering::Relaxed);
    flusher.join().unwrap();
    check_consistent(&log);
}

#[test]
fn a_reset_starts_an_empty_log_at_any_offset_durably() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = Log::open(dir.path(), small_config()).unwrap();
    fill(&log, 200, 0);
    let bases = log.segment_bases();
    let held = log.slice(0, 1 << 20).unwrap();
    let held_bytes = held.read_all().unwrap();
    log.delete_records_before(bases[2] + 1).unwrap();

    // Past the end (an empty follower of a leader whose log starts later).
    log.truncate_fully_and_start_at(10_000).unwrap();
    assert_eq!((log.log_start_offset(), log.high_watermark(), log.segment_bases()), (10_000, 10_000, vec![10_000]));
    for b in &bases {
        assert!(!segment_file(dir.path(), *b, "log").exists());
    }
    assert_eq!(held.read_all().unwrap(), held_bytes, "a slice taken before still reads");
    assert_eq!(log.slice(10_000, 100).unwrap().ranges.len(), 0);
    assert_eq!(log.read(9_999, 100).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(checkpoint::read_recovery_point(dir.path()), Some(10_000));
    check_consistent(&log);
    assert_eq!(log.append(&mut make_batch(3, 10, 0), 0).unwrap().base_offset, 10_000);
    check_consistent(&log);

    // On the name of a segment that holds batches: it is replaced by an empty one.
    log.truncate_fully_and_start_at(10_000).unwrap();
    assert_eq!((log.high_watermark(), fs::metadata(segment_file(dir.path(), 10_000, "log")).unwrap().len()), (10_000, 0));
    log.append(&mut make_batch(1, 10, 0), 0).unwrap();
    // Below the old start (which DeleteRecords stored): the stored start follows.
    log.truncate_fully_and_start_at(0).unwrap();
    assert!(!segment_file(dir.path(), 10_000, "log").exists());
    assert_eq!((log.log_start_offset(), log.high_watermark()), (0, 0));
    assert_eq!(checkpoint::read_log_start_offset(dir.path()), Some(0));
    fill(&log, 100, 0);
    let end = check_consistent(&log);
    drop(log); // killed
    let (reopened, _) = Log::open(dir.path(), small_config()).unwrap();
    assert_eq!((reopened.log_start_offset(), reopened.high_watermark()), (0, end));
    check_consistent(&reopened);
    assert_eq!(reopened.truncate_fully_and_start_at(-1).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    reopened.truncate_fully_and_start_at(end).unwrap(); // at its own end: emptied there
    assert_eq!((reopened.log_start_offset(), reopened.high_watermark(), reopened.segment_bases()), (end, end, vec![end]));
    reopened.close().unwrap();
    let (closed, report) = Log::open(dir.path(), small_config()).unwrap();
    assert!(report.clean_shutdown);
    assert_eq!((closed.log_start_offset(), closed.high_watermark()), (end, end));
    check_consistent(&closed);
}

#[test]
fn an_empty_follower_starts_at_the_leaders_log_start_and_replicates_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let (leader, _) = Log::open(&dir.path().join("leader"), small_config()).unwrap();
    fill(&leader, 300, 0);
    leader.delete_records_before(leader.segment_bases()[3]).unwrap();
    leader.enforce_retention(0).unwrap();
    let start = leader.log_start_offset();
    let (follower, _) = Log::open(&dir.path().join("follower"), small_config()).unwrap();
    // The follower's fetch at 0 is out of range at the leader: it starts over at the leader's start.
    assert_eq!(leader.read(0, 100).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(follower.append_replica(&leader.read(start, 100).unwrap().0, 0).unwrap_err().code(), "OFFSET_OUT_OF_SEQUENCE");
    follower.truncate_fully_and_start_at(start).unwrap();
    let mut offset = start;
    while offset < leader.high_watermark() {
        let (bytes, slice) = leader.read(offset, 5000).unwrap();
        follower.append_replica(&bytes, 0).unwrap();
        offset = slice.next_offset();
    }
    assert_eq!(follower.log_start_offset(), start);
    assert_eq!(bytes_from(&follower, start), bytes_from(&leader, start));
    check_consistent(&follower);

    // A divergent tail (the follower led for a while), cut back to where the leader's history resumes.
    let common = follower.high_watermark();
    follower.set_leader_epoch(1).unwrap();
    fill(&follower, 20, 0);
    fill(&leader, 30, 0);
    assert_eq!(follower.truncate_to(common).unwrap(), common);
    let (bytes, _) = leader.read(common, 1 << 20).unwrap();
    follower.append_replica(&bytes, 0).unwrap();
    assert_eq!(bytes_from(&follower, start), bytes_from(&leader, start));
    check_consistent(&follower);
}

#[test]
fn bounded_slices_hold_whole_batches_that_end_at_or_below_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    // Small index interval: the skip-ahead by index entries is taken often.
    let config = LogConfig { segment_bytes: 16_384, index_interval_bytes: 100, ..small_config() };
    let (log, _) = Log::open(dir.path(), config).unwrap();
    let batches = fill(&log, 400, 0);
    let hw = log.high_watermark();
    let headers_of = |bytes: &[u8]| if bytes.is_empty() { Vec::new() } else { crate::validate_batches(bytes, 1 << 20).unwrap() };
    let mut checked = 0;
    for bound_index in (0..batches.len()).step_by(13) {
        let boundary = batches[bound_index].0;
        for bound in [boundary, boundary + 1, hw, hw + 5] {
            for (offset, _) in batches.iter().step_by(11) {
                for max_bytes in [0u64, 300, 2000, 20_000, 200_000] {
                    let bounded = log.slice_until(*offset, max_bytes, bound).unwrap();
                    // The unbounded slice cut after its last batch that ends at or below the bound.
                    let unbounded = headers_of(&log.slice(*offset, max_bytes).unwrap().read_all().unwrap());
                    let expected: Vec<BatchHeader> = unbounded.into_iter().take_while(|h| h.next_offset() <= bound).collect();
                    let bytes = bounded.read_all().unwrap();
                    let got = headers_of(&bytes);
                    assert_eq!(got, expected, "offset {offset}, max {max_bytes}, bound {bound}");
                    assert_eq!(bounded.next_offset(), got.last().map_or(*offset, |h| h.next_offset()));
                    assert_eq!(bounded.high_watermark, hw, "the slice still reports the log end");
                    for r in &bounded.ranges {
                        assert!(r.next_offset <= bound && r.first_offset < r.next_offset);
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5000, "{checked}");
    // A bound inside a batch leaves that batch out, even as the only one (max_bytes 0).
    let multi = batches.windows(2).find(|w| w[1].0 - w[0].0 == 3).unwrap()[0].0;
    assert!(log.slice_until(multi, 0, multi + 1).unwrap().ranges.is_empty());
    assert_eq!(log.slice_until(multi, 0, multi + 3).unwrap().next_offset(), multi + 3);
    // At or past the bound: nothing, not an error; out of range is judged against the log.
    assert!(log.slice_until(multi, 1 << 20, multi).unwrap().ranges.is_empty());
    assert!(log.slice_until(hw, 1 << 20, 5).unwrap().ranges.is_empty());
    assert!(log.slice_until(multi + 1, 1 << 20, multi).unwrap().ranges.is_empty());
    assert_eq!(log.slice_until(hw + 1, 1 << 20, i64::MAX).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    assert_eq!(log.slice_until(-1, 1 << 20, 0).unwrap_err().code(), "OFFSET_OUT_OF_RANGE");
    let (bytes, slice) = log.read_until(0, 1 << 20, multi).unwrap();
    assert_eq!((headers_of(&bytes).last().unwrap().next_offset(), slice.next_offset()), (multi, multi));
    assert_eq!(log.slice(0, u64::MAX).unwrap().next_offset(), hw, "an unbounded budget does not overflow");
}

/// A follower's life at random: its own appends, truncations anywhere, DeleteRecords, retention,
/// resets, kills and clean reopens, with slices held across them. After every step the log must
/// verify, keep its recovery point at or below its end, and read back exactly the batches a model
/// of it holds; after a reopen too.
#[test]
fn random_follower_operations_keep_the_log_equal_to_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 2048, index_interval_bytes: 128, retention_bytes: 6000, retention_ms: -1, ..small_config() };
    let (mut log, _) = Log::open(dir.path(), config.clone()).unwrap();
    // The model: the batches from the log start on, as (base offset, bytes).
    let mut model: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut held = Vec::new();
    // Slices of an earlier open: its holders are not the new log's, which may cut their files in
    // place; reading them may fail, never crash.
    let mut stale = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n.max(1)
    };
    for step in 0..600 {
        let (start, end) = (log.log_start_offset(), log.high_watermark());
        let op = next(20);
        match op {
            0..=8 => {
                for _ in 0..1 + next(3) {
                    let mut b = make_batch(1 + next(3) as i32, next(200) as usize, step);
                    let info = log.append(&mut b, 0).unwrap();
                    model.push((info.base_offset, b));
                }
            }
            9..=11 => {
                let offset = start + next((end - start + 1) as u64) as i64;
                let new_end = log.truncate_to(offset).unwrap();
                model.retain(|(base, _)| *base < offset);
                if let Some((base, b)) = model.last() {
                    let h = BatchHeader::parse(b).unwrap();
                    if h.next_offset() > offset {
                        assert_eq!(new_end, *base, "step {step}");
                        model.pop();
                    }
                }
                assert_eq!(new_end, model.last().map_or(new_end.min(offset), |(_, b)| BatchHeader::parse(b).unwrap().next_offset()), "step {step}");
            }
            12 => {
                log.delete_records_before(start + next((end - start + 1) as u64) as i64).unwrap();
            }
            13 => {
                log.enforce_retention(0).unwrap();
            }
            14 => {
                let offset = if next(2) == 0 { end + next(50) as i64 } else { start.saturating_sub(next(50) as i64).max(0) };
                log.truncate_fully_and_start_at(offset).unwrap();
                model.clear();
            }
            15 | 16 => {
                if end > start {
                    held.push(log.slice(start + next((end - start) as u64) as i64, next(4000)).unwrap());
                }
            }
            17 => held.clear(),
            _ => {
                if next(2) == 0 {
                    log.close().unwrap();
                }
                drop(log);
                stale.append(&mut held);
                log = Log::open(dir.path(), config.clone()).unwrap().0;
                assert_eq!((log.log_start_offset(), log.high_watermark()), (start, end), "step {step}: reopened as it was");
            }
        }
        let start = log.log_start_offset();
        let expected: Vec<u8> = model.iter().filter(|(b, bytes)| BatchHeader::parse(bytes).unwrap().next_offset() > start && *b < log.high_watermark()).flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(bytes_from(&log, start), expected, "step {step} (op {op})");
        check_consistent(&log);
        for slice in &held {
            slice.read_all().unwrap(); // a slice taken before any of it still reads whole
        }
        for slice in &stale {
            let _ = slice.read_all();
        }
    }
}
