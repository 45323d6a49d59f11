//! How long fsync rounds take, for the whole process: a fixed-bucket histogram every log's rounds
//! (acks=all flushes, the background flusher's, truncations') add to, read by the broker's metrics
//! as `sluice_fsync_seconds` (Kafka's LogFlushRateAndTimeMs). Lock-free: a round adds one count and
//! its duration with relaxed atomics, so a reader may see a count without its duration for a moment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (0.1 ms to 2.5 s; slower rounds count only in the total).
pub const BUCKET_BOUNDS_US: [u64; 14] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000];

static BUCKETS: [AtomicU64; 14] = [const { AtomicU64::new(0) }; 14];
static COUNT: AtomicU64 = AtomicU64::new(0);
static SUM_US: AtomicU64 = AtomicU64::new(0);

/// Counts one fsync round that took `took`.
pub(crate) fn observe(took: Duration) {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    if let Some(i) = BUCKET_BOUNDS_US.iter().position(|&bound| us <= bound) {
        BUCKETS[i].fetch_add(1, Ordering::Relaxed);
    }
    SUM_US.fetch_add(us, Ordering::Relaxed);
    COUNT.fetch_add(1, Ordering::Relaxed);
}

/// The histogram so far: rounds per bucket (not cumulative), all rounds, and their total time (µs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsyncLatency {
    pub buckets: [u64; 14],
    pub count: u64,
    pub sum_us: u64,
}

pub fn snapshot() -> FsyncLatency {
    FsyncLatency { buckets: std::array::from_fn(|i| BUCKETS[i].load(Ordering::Relaxed)), count: COUNT.load(Ordering::Relaxed), sum_us: SUM_US.load(Ordering::Relaxed) }
}
