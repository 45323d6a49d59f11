//! Sluice's native load generators and baselines, used only by the benchmarks (`bench/`) and the
//! test harness (`test/harness/`), never by the broker. The product's addon does not link this
//! crate: `crates/node` exports its bindings (`src/bench.rs`) only with its `bench` feature.
//!
//! Module map: `raw` (the fan-out benchmark's raw sendfile baseline), `uring` (the io_uring splice
//! experiment in the raw loop's shape), `sink` (the fan-out benchmark's native consumers),
//! `fetch_load` (the broker benchmarks' native fetch-protocol and subscribe consumers). System
//! calls come from `sluice_transfer::sys`, shared with the engine.

pub mod fetch_load;
pub mod raw;
pub mod sink;
pub mod uring;

#[cfg(test)]
mod tests;
