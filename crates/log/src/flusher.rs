//! The background flush policy: one thread for the whole process that fsyncs each registered log
//! when its unflushed bytes reach `flushIntervalBytes` or its oldest unflushed append is
//! `flushIntervalMs` old. It bounds what an unclean stop can lose for appends that did not wait
//! for a flush themselves. Appends only bump counters and, past the byte threshold, wake it.

use std::sync::{Arc, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::log::Log;

struct Registry {
    logs: Mutex<Vec<Weak<Log>>>,
    wake: Condvar,
    epoch: Instant,
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<&'static Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let registry: &'static Registry =
            Box::leak(Box::new(Registry { logs: Mutex::new(Vec::new()), wake: Condvar::new(), epoch: Instant::now() }));
        thread::Builder::new()
            .name("sluice-flusher".into())
            .spawn(move || run(registry))
            .expect("spawn the flusher thread");
        registry
    })
}

/// Microseconds on the flusher's monotonic clock (never 0, which means "nothing unflushed").
pub(crate) fn now_us() -> u64 {
    registry().epoch.elapsed().as_micros() as u64 + 1
}

pub(crate) fn register(log: &Arc<Log>) {
    registry().logs.lock().push(Arc::downgrade(log));
    registry().wake.notify_one();
}

pub(crate) fn wake() {
    registry().wake.notify_one();
}

fn run(registry: &'static Registry) {
    let mut logs = registry.logs.lock();
    loop {
        logs.retain(|w| w.upgrade().is_some_and(|log| !log.is_closed()));
        let now = now_us();
        let mut due = Vec::new();
        let mut next_check_us = 1_000_000u64;
        for log in logs.iter().filter_map(Weak::upgrade) {
            match log.flush_due_in_us(now) {
                Some(0) => due.push(log),
                Some(us) => next_check_us = next_check_us.min(us),
                None => {}
            }
        }
        if due.is_empty() {
            registry.wake.wait_for(&mut logs, Duration::from_micros(next_check_us));
            continue;
        }
        // Flush without holding the registry, so appends can wake us meanwhile.
        parking_lot::MutexGuard::unlocked(&mut logs, || {
            for log in due {
                // A failed background flush is retried on the next round; appends that need
                // durability call flush() themselves and see the error.
                let _ = log.flush();
            }
        });
    }
}
