//! The transfer engine: a few sender threads (each with its own epoll) plus one warmer thread.
//! Callers register socket fds, submit jobs, and hear about finished jobs through one notifier
//! callback that receives them in batches, on a sender thread.
//!
//! Thread-safe: every method takes `&self` and may be called from any thread (the binding calls
//! them on the JS thread; none of them blocks on a socket or the disk).

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use crate::counters::{Counters, CountersSnapshot};
use crate::error::{TransferError, INVALID_ARGUMENT};
use crate::job::{FetchPath, Job, Piece};
use crate::sender::{run_warmer, Command, Inbox, Sender};
use crate::sys;

/// Settings of the engine. The defaults are the ones measured best on loopback (see the fan-out
/// benchmarks): each sendfile call asks for the rest of the range and the kernel moves what the
/// socket buffer takes (as Kafka's transferTo does; 64 KiB calls cost the sender 25-30% more CPU per
/// GiB: four calls and an EAGAIN per buffer's worth instead of one or two), a ~100 KiB socket send
/// buffer (Kafka's default `socket.send.buffer.bytes`), copying paths in 1 MiB calls.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub sender_threads: usize,
    /// The most one sendfile call is asked to move.
    pub sendfile_chunk_bytes: usize,
    pub copy_chunk_bytes: usize,
    /// `SO_SNDBUF` set on every registered socket; `None` leaves the kernel's autotuning on.
    pub socket_send_buffer_bytes: Option<usize>,
    /// Bytes one connection may write before the sender turns to the next ready connection.
    pub turn_budget_bytes: u64,
}

/// A sendfile call's cap by default: 1 GiB, more than a job's range, so one call takes all the socket can.
pub const SENDFILE_WHOLE_RANGE_BYTES: usize = 1 << 30;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            sender_threads: 1,
            sendfile_chunk_bytes: SENDFILE_WHOLE_RANGE_BYTES,
            copy_chunk_bytes: 1024 * 1024,
            socket_send_buffer_bytes: Some(100 * 1024),
            turn_budget_bytes: 1024 * 1024,
        }
    }
}

impl EngineConfig {
    pub fn validate(&self) -> Result<(), TransferError> {
        let bad = |what: &str| Err(TransferError::new(INVALID_ARGUMENT, what.to_string()));
        if self.sender_threads == 0 || self.sender_threads > 64 {
            return bad("senderThreads must be 1..64");
        }
        if self.sendfile_chunk_bytes == 0 || self.copy_chunk_bytes == 0 || self.turn_budget_bytes == 0 {
            return bad("chunk sizes and the turn budget must be positive");
        }
        if self.copy_chunk_bytes > 64 * 1024 * 1024 {
            return bad("copyChunkBytes must be at most 64 MiB (it is a per-connection buffer)");
        }
        Ok(())
    }
}

/// A finished job: how many bytes went out, and the error if it did not finish.
#[derive(Debug)]
pub struct Completed {
    pub job_id: u64,
    pub bytes_sent: u64,
    pub result: Result<(), TransferError>,
}

/// Receives finished jobs, in batches, on a sender thread. Must not block.
pub type Notifier = Arc<dyn Fn(Vec<Completed>) + Send + Sync>;

struct Thread {
    inbox: Arc<Inbox>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

pub struct Engine {
    config: EngineConfig,
    /// Emptied by `close` once the threads are joined, so their inboxes' eventfds are closed then,
    /// not when the last handle to the engine (a JS object the garbage collector frees) goes.
    threads: RwLock<Vec<Thread>>,
    warmer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    next_conn: AtomicU64,
    next_job: AtomicU64,
    closed: std::sync::atomic::AtomicBool,
}

impl Engine {
    pub fn start(config: EngineConfig, notifier: Notifier) -> Result<Engine, TransferError> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let io_err = |e: std::io::Error| TransferError::new(crate::error::STORAGE, format!("cannot start the transfer engine: {e}"));
        let (warm_tx, warm_rx) = mpsc::channel();
        let warm_counters = counters.clone();
        let warmer = std::thread::Builder::new()
            .name("sluice-warmer".into())
            .spawn(move || run_warmer(warm_rx, warm_counters))
            .map_err(io_err)?;
        let mut threads = Vec::new();
        for i in 0..config.sender_threads {
            let inbox = Inbox::new().map_err(io_err)?;
            let sender = Sender::new(config.clone(), inbox.clone(), counters.clone(), notifier.clone(), warm_tx.clone())
                .map_err(io_err)?;
            let handle = std::thread::Builder::new()
                .name(format!("sluice-sender-{i}"))
                .spawn(move || sender.run())
                .map_err(io_err)?;
            threads.push(Thread { inbox, handle: Mutex::new(Some(handle)) });
        }
        Ok(Engine {
            config,
            threads: RwLock::new(threads),
            warmer: Mutex::new(Some(warmer)),
            counters,
            next_conn: AtomicU64::new(1),
            next_job: AtomicU64::new(1),
            closed: Default::default(),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Posts to the thread that owns `conn`; false once the engine is closed (no threads left).
    fn post(&self, conn: u64, command: Command) -> bool {
        let threads = self.threads.read();
        if threads.is_empty() {
            return false;
        }
        threads[(conn % threads.len() as u64) as usize].inbox.post(command);
        true
    }

    /// Registers a connected stream socket. The engine duplicates `fd` and works only on its copy,
    /// which it closes when the connection is unregistered; it sets the socket non-blocking and,
    /// if configured, its send buffer (both are properties of the socket, shared with the caller).
    pub fn register(&self, fd: RawFd) -> Result<u64, TransferError> {
        self.register_with(fd, self.config.socket_send_buffer_bytes)
    }

    pub fn register_with(&self, fd: RawFd, send_buffer_bytes: Option<usize>) -> Result<u64, TransferError> {
        if self.closed.load(Relaxed) {
            return Err(TransferError::cancelled("transfer engine closed"));
        }
        let arg = |e: std::io::Error| TransferError::new(INVALID_ARGUMENT, format!("fd {fd} cannot be registered: {e}"));
        if !sys::is_stream_socket(fd).map_err(arg)? {
            return Err(TransferError::new(INVALID_ARGUMENT, format!("fd {fd} is not a stream socket")));
        }
        let dup = sys::dup(fd).map_err(arg)?;
        sys::set_nonblocking(dup.as_raw_fd()).map_err(arg)?;
        if let Some(bytes) = send_buffer_bytes {
            sys::set_send_buffer(dup.as_raw_fd(), bytes).map_err(arg)?;
        }
        let conn = self.next_conn.fetch_add(1, Relaxed);
        if !self.post(conn, Command::Register { conn, fd: dup }) {
            return Err(TransferError::cancelled("transfer engine closed"));
        }
        self.counters.connections.fetch_add(1, Relaxed);
        Ok(conn)
    }

    /// Queues a job on `conn` behind its earlier jobs; returns the job id that its `Completed`
    /// will carry. An unknown or unregistered connection completes the job with an error.
    pub fn submit(&self, conn: u64, path: FetchPath, pieces: Vec<Piece>) -> Result<u64, TransferError> {
        if self.closed.load(Relaxed) {
            return Err(TransferError::cancelled("transfer engine closed"));
        }
        let id = self.next_job.fetch_add(1, Relaxed);
        // Counted before the post (the sender may finish the job and count it out first), taken back if it cannot be posted.
        self.counters.jobs_submitted.fetch_add(1, Relaxed);
        self.counters.jobs_in_flight.fetch_add(1, Relaxed);
        if !self.post(conn, Command::Submit { conn, job: Job::new(id, path, pieces) }) {
            self.counters.jobs_submitted.fetch_sub(1, Relaxed);
            self.counters.jobs_in_flight.fetch_sub(1, Relaxed);
            return Err(TransferError::cancelled("transfer engine closed"));
        }
        Ok(id)
    }

    /// Cancels the connection's jobs (they complete with TRANSFER_CANCELLED) and closes the
    /// engine's duplicate of its fd. Unknown ids are ignored.
    pub fn unregister(&self, conn: u64) {
        self.post(conn, Command::Unregister { conn });
    }

    pub fn counters(&self) -> CountersSnapshot {
        self.counters.snapshot()
    }

    /// Cancels every job, closes every duplicated fd and joins the threads.
    pub fn close(&self) {
        if self.closed.swap(true, Relaxed) {
            return;
        }
        let threads = std::mem::take(&mut *self.threads.write());
        for t in &threads {
            t.inbox.post(Command::Shutdown);
        }
        for t in &threads {
            if let Some(h) = t.handle.lock().take() {
                let _ = h.join();
            }
        }
        // The inboxes (and their eventfds) go with `threads` here.
        // The senders held the warmer's channel; with them gone it drains and exits.
        if let Some(h) = self.warmer.lock().take() {
            let _ = h.join();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}
