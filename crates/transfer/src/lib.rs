//! Sluice's transfer engine: moves fetch responses (header bytes plus segment file ranges) from the
//! page cache to consumers' sockets on native sender threads, with `sendfile(2)` by default and
//! with mmap or copying paths for comparison. Pure Rust, no Node; the binding (`crates/node`)
//! registers Node sockets' fds and turns completions into promises.
//!
//! Module map: `engine` (public API, threads), `sender` (a sender thread's loop and the warmer),
//! `job` (pieces and how each path writes them), `residency` (page-cache probes and warming),
//! `mapping` (the mmap path's mappings), `counters`, `error`, `sys` (system calls; public, as
//! the binding and the benchmarks' load generators in `crates/loadgen` use them too).

pub mod counters;
pub mod engine;
pub mod error;
pub mod job;
mod mapping;
pub mod residency;
mod sender;
pub mod sys;

#[cfg(test)]
mod tests;

pub use counters::CountersSnapshot;
pub use engine::{Completed, Engine, EngineConfig, Notifier};
pub use error::TransferError;
pub use job::{FetchPath, FilePiece, Piece};
