//! Seeded fuzzing of the batch validator and the append path: random bytes and mutations of valid
//! batches (bit flips, boundary values in the size and count fields, truncations, insertions,
//! splices). Every input must be refused with a stable error or accepted as batches whose CRCs
//! hold; a refused append must leave the log file as it was; the log must verify throughout.
//! CI runs `SLUICE_FUZZ_INPUTS` (default 100,000); `npm run fuzz` runs millions.

use std::env;

use crate::batch::tests::make_batch;
use crate::batch::{check_batch, validate_batches, CRC_AT, CRC_FROM};
use crate::log::Log;
use crate::LogConfig;

/// xorshift64*: seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn inputs() -> usize {
    env::var("SLUICE_FUZZ_INPUTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn seed() -> u64 {
    env::var("SLUICE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_f00d) | 1
}

const INTERESTING_I32: [i32; 8] = [0, 1, -1, 48, 49, 61, i32::MAX, i32::MIN];

/// A valid input (one or more batches) changed in one to four random ways.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut input = corpus[rng.below(corpus.len())].clone();
    if rng.below(20) == 0 {
        return (0..rng.below(256)).map(|_| rng.next() as u8).collect();
    }
    for _ in 0..1 + rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => input[rng.below(len)] ^= 1 << rng.below(8),
            1 if len > 0 => input[rng.below(len)] = rng.next() as u8,
            2 if len >= 4 => {
                // A size, count or delta field (or anywhere) set to a boundary value.
                let at = [8usize, 23, 57, rng.below(len - 3)][rng.below(4)].min(len - 4);
                input[at..at + 4].copy_from_slice(&INTERESTING_I32[rng.below(8)].to_be_bytes());
            }
            3 => input.truncate(rng.below(len + 1)),
            4 => {
                let at = rng.below(len + 1);
                let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                input.splice(at..at, extra);
            }
            5 if len > 0 => {
                let from = rng.below(len);
                let to = (from + 1 + rng.below(64)).min(len);
                input.drain(from..to);
            }
            6 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(other.len() + 1);
                input.extend_from_slice(&other[..cut]);
            }
            _ => {
                // A flip that keeps the CRC right: the validator must still judge the rest.
                if len >= CRC_FROM + 1 {
                    let at = CRC_FROM + rng.below(len - CRC_FROM);
                    input[at] ^= 1 << rng.below(8);
                    let size = (i32::from_be_bytes(input[8..12].try_into().unwrap()).max(0) as usize + 12).min(len);
                    if size > CRC_FROM {
                        let crc = crc32c::crc32c(&input[CRC_FROM..size]);
                        input[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
                    }
                }
            }
        }
    }
    input
}

fn corpus() -> Vec<Vec<u8>> {
    let mut corpus = vec![make_batch(1, 0, 1), make_batch(3, 10, 2), make_batch(20, 100, 3)];
    corpus.push([make_batch(2, 5, 4), make_batch(1, 1, 5)].concat());
    corpus
}

#[test]
fn the_validator_refuses_or_accepts_every_fuzzed_input_cleanly() {
    let corpus = corpus();
    let mut rng = Rng(seed());
    let (mut accepted, mut refused) = (0usize, 0usize);
    for _ in 0..inputs() {
        let input = mutate(&mut rng, &corpus);
        match validate_batches(&input, 1 << 20) {
            Ok(headers) => {
                // Accepted: whole batches covering the input, each with a CRC that holds.
                assert_eq!(headers.iter().map(|h| h.size_bytes).sum::<usize>(), input.len());
                let mut at = 0;
                for h in &headers {
                    check_batch(&input[at..at + h.size_bytes], h.size_bytes).expect("an accepted batch re-validates");
                    at += h.size_bytes;
                }
                accepted += 1;
            }
            Err(e) => {
                assert!(["CORRUPT_MESSAGE", "INVALID_RECORD", "MESSAGE_TOO_LARGE"].contains(&e.code()), "unexpected {e}");
                refused += 1;
            }
        }
    }
    eprintln!("validator fuzz: {accepted} accepted, {refused} refused (seed {})", seed());
    assert!(refused > accepted, "mutations should mostly be refused");
}

#[test]
fn fuzzed_appends_write_only_valid_batches_and_leave_the_log_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 256 * 1024, index_interval_bytes: 512, ..LogConfig::default() };
    let (log, _) = Log::open(dir.path(), config.clone()).unwrap();
    let corpus = corpus();
    let mut rng = Rng(seed() ^ 0xa5a5);
    let appends = (inputs() / 10).max(1000);
    let mut accepted = 0;
    for i in 0..appends {
        let mut input = mutate(&mut rng, &corpus);
        let (hw, bytes) = (log.high_watermark(), log.stats().size_bytes);
        match log.append(&mut input, i as i64) {
            Ok(info) => {
                assert_eq!(info.base_offset, hw);
                accepted += 1;
            }
            Err(_) => {
                assert_eq!((log.high_watermark(), log.stats().size_bytes), (hw, bytes), "a refused append wrote nothing");
            }
        }
    }
    assert_eq!(log.verify(), Vec::<String>::new());
    let hw = log.high_watermark();
    drop(log);
    let (log, report) = Log::open(dir.path(), config).unwrap();
    assert_eq!((log.high_watermark(), report.truncated_bytes()), (hw, 0), "recovery keeps every accepted batch");
    assert_eq!(log.verify(), Vec::<String>::new());
    eprintln!("append fuzz: {accepted} of {appends} accepted, high watermark {hw}");
}

/// Inputs the fuzzer found or that sit on the checks' edges, kept as fixed cases.
#[test]
fn regressions_from_fuzzing() {
    let with_counts = |delta: i32, count: i32, attributes: u8| {
        let mut b = make_batch(1, 1, 0);
        b[22] = attributes;
        b[23..27].copy_from_slice(&delta.to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&b[CRC_FROM..]);
        b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        b
    };
    // lastOffsetDelta i32::MAX: `+ 1` overflowed (a panic in debug builds, a wrap that let
    // recordsCount i32::MIN through in release).
    assert_eq!(validate_batches(&with_counts(i32::MAX, i32::MIN, 0), 1 << 20).unwrap_err().code(), "INVALID_RECORD");
    // A consistent count that the batch's bytes cannot hold, uncompressed: refused...
    assert_eq!(validate_batches(&with_counts(999, 1000, 0), 1 << 20).unwrap_err().code(), "INVALID_RECORD");
    // ...compressed (zstd): plausible, accepted.
    assert!(validate_batches(&with_counts(999, 1000, 4), 1 << 20).is_ok());
}
