//! The engine's counters: bytes sent per fetch path, calls, job outcomes and gauges (jobs in flight,
//! connections waiting for EPOLLOUT). Updated with relaxed atomics by the sender threads, read as a
//! snapshot from any thread; each field is exact, the snapshot is not a single instant.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Counters {
    pub sendfile_bytes: AtomicU64,
    pub sendfile_calls: AtomicU64,
    pub mmap_bytes: AtomicU64,
    pub copy_bytes: AtomicU64,
    /// Bytes the copy path read into user-space buffers (its one extra copy).
    pub copied_bytes: AtomicU64,
    /// Bytes of `Bytes` pieces (headers, framing) written.
    pub header_bytes: AtomicU64,
    pub write_calls: AtomicU64,
    pub jobs_submitted: AtomicU64,
    pub jobs_completed: AtomicU64,
    pub jobs_failed: AtomicU64,
    pub jobs_cancelled: AtomicU64,
    pub jobs_in_flight: AtomicI64,
    /// Connections whose socket is full and whose job waits for EPOLLOUT, now.
    pub connections_waiting_writable: AtomicI64,
    /// How many times a job had to wait for EPOLLOUT.
    pub writable_waits: AtomicU64,
    /// Jobs sent to the warmer because their pages were not in the page cache.
    pub cold_page_waits: AtomicU64,
    pub warmed_bytes: AtomicU64,
    pub connections: AtomicI64,
    /// CPU time of the sender threads, updated before each wait.
    pub sender_cpu_ns: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub sendfile_bytes: u64,
    pub sendfile_calls: u64,
    pub mmap_bytes: u64,
    pub copy_bytes: u64,
    pub copied_bytes: u64,
    pub header_bytes: u64,
    pub write_calls: u64,
    pub jobs_submitted: u64,
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    pub jobs_cancelled: u64,
    pub jobs_in_flight: i64,
    pub connections_waiting_writable: i64,
    pub writable_waits: u64,
    pub cold_page_waits: u64,
    pub warmed_bytes: u64,
    pub connections: i64,
    pub sender_cpu_ns: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            sendfile_bytes: self.sendfile_bytes.load(Relaxed),
            sendfile_calls: self.sendfile_calls.load(Relaxed),
            mmap_bytes: self.mmap_bytes.load(Relaxed),
            copy_bytes: self.copy_bytes.load(Relaxed),
            copied_bytes: self.copied_bytes.load(Relaxed),
            header_bytes: self.header_bytes.load(Relaxed),
            write_calls: self.write_calls.load(Relaxed),
            jobs_submitted: self.jobs_submitted.load(Relaxed),
            jobs_completed: self.jobs_completed.load(Relaxed),
            jobs_failed: self.jobs_failed.load(Relaxed),
            jobs_cancelled: self.jobs_cancelled.load(Relaxed),
            jobs_in_flight: self.jobs_in_flight.load(Relaxed),
            connections_waiting_writable: self.connections_waiting_writable.load(Relaxed),
            writable_waits: self.writable_waits.load(Relaxed),
            cold_page_waits: self.cold_page_waits.load(Relaxed),
            warmed_bytes: self.warmed_bytes.load(Relaxed),
            connections: self.connections.load(Relaxed),
            sender_cpu_ns: self.sender_cpu_ns.load(Relaxed),
        }
    }
}
