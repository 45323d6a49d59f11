//! A sender thread: owns a set of connections (each a duplicated socket fd plus its queue of jobs),
//! an epoll instance that reports when full sockets drain, and an inbox of commands from other
//! threads. It runs the head job of each ready connection in turn, with a byte budget per turn so
//! one fast consumer cannot starve the rest, and reports finished jobs in batches.
//!
//! Rules it keeps:
//! - Jobs on a connection run strictly in submission order; the next starts when the last is done.
//! - It never blocks on a socket: `EAGAIN` parks the connection until epoll says EPOLLOUT.
//! - It never blocks on the disk for data it can see is not cached: such a job goes to the warmer,
//!   and only its own connection waits (later jobs on it keep their order).
//! - A failed write poisons the connection: its remaining jobs fail with the same error, since the
//!   peer's byte stream is now incomplete.
//! - Unregistering removes the fd from epoll, cancels the jobs, then closes the duplicate.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::counters::Counters;
use crate::engine::{Completed, Notifier};
use crate::error::TransferError;
use crate::job::{Job, Progress, SendContext};
use crate::mapping::MappingCache;
use crate::residency;
use crate::sys::{self, Epoll, EventFd};
use crate::EngineConfig;

pub enum Command {
    Register { conn: u64, fd: OwnedFd },
    Submit { conn: u64, job: Job },
    Unregister { conn: u64 },
    /// The warmer has brought a job's ranges into the page cache.
    Warmed { conn: u64, job: Job },
    Shutdown,
}

/// The other threads' handle on a sender thread.
pub struct Inbox {
    queue: Mutex<Queue>,
    wake: EventFd,
}

#[derive(Default)]
struct Queue {
    commands: Vec<Command>,
    /// The thread found the queue empty and is (about to be) blocked in epoll_wait.
    sleeping: bool,
}

impl Inbox {
    pub fn new() -> std::io::Result<Arc<Inbox>> {
        Ok(Arc::new(Inbox { queue: Mutex::new(Queue::default()), wake: EventFd::new()? }))
    }

    /// Queues a command. A busy thread picks it up on its next round, so only a sleeping one is
    /// woken (a write to its eventfd): at thousands of jobs a second that saves a syscall and an
    /// epoll event per job.
    pub fn post(&self, command: Command) {
        let wake = {
            let mut q = self.queue.lock();
            q.commands.push(command);
            std::mem::take(&mut q.sleeping)
        };
        if wake {
            self.wake.notify();
        }
    }

    fn take(&self) -> Vec<Command> {
        std::mem::take(&mut self.queue.lock().commands)
    }

    /// True (and marked sleeping) when there is nothing to take: the caller may block.
    fn sleep_if_empty(&self) -> bool {
        let mut q = self.queue.lock();
        q.sleeping = q.commands.is_empty();
        q.sleeping
    }
}

pub struct WarmRequest {
    pub conn: u64,
    pub job: Job,
    pub reply: Arc<Inbox>,
}

struct Conn {
    fd: OwnedFd,
    jobs: VecDeque<Job>,
    /// False after EAGAIN, until epoll reports EPOLLOUT.
    writable: bool,
    /// The head job is at the warmer.
    warming: bool,
    /// In `ready` already.
    queued: bool,
    /// Set by the first failed write; later jobs fail with it.
    failed: Option<TransferError>,
}

const WAKE_TOKEN: u64 = u64::MAX;

pub struct Sender {
    config: EngineConfig,
    inbox: Arc<Inbox>,
    epoll: Epoll,
    conns: HashMap<u64, Conn>,
    ready: VecDeque<u64>,
    mappings: MappingCache,
    counters: Arc<Counters>,
    notifier: Notifier,
    warmer: mpsc::Sender<WarmRequest>,
    completed: Vec<Completed>,
    cpu_ns_reported: u64,
}

impl Sender {
    pub fn new(
        config: EngineConfig,
        inbox: Arc<Inbox>,
        counters: Arc<Counters>,
        notifier: Notifier,
        warmer: mpsc::Sender<WarmRequest>,
    ) -> std::io::Result<Sender> {
        let epoll = Epoll::new()?;
        epoll.add(inbox.wake.raw(), libc::EPOLLIN as u32, WAKE_TOKEN)?;
        Ok(Sender {
            config,
            inbox,
            epoll,
            conns: HashMap::new(),
            ready: VecDeque::new(),
            mappings: MappingCache::default(),
            counters,
            notifier,
            warmer,
            completed: Vec::new(),
            cpu_ns_reported: 0,
        })
    }

    /// The thread's loop; returns after `Command::Shutdown`.
    pub fn run(mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        loop {
            self.report();
            if self.ready.is_empty() {
                // About to sleep: let go of mappings whose segments are gone.
                self.mappings.release_unused();
            }
            let block = self.ready.is_empty() && self.inbox.sleep_if_empty();
            let n = self.epoll.wait(&mut events, if block { -1 } else { 0 }).unwrap_or(0);
            for ev in &events[..n] {
                let token = sys::epoll_event_token(ev);
                if token == WAKE_TOKEN {
                    self.inbox.wake.reset();
                } else {
                    self.on_writable(token);
                }
            }
            let shutdown = self.drain_inbox();
            if shutdown {
                self.shutdown();
                self.report();
                return;
            }
            self.run_ready();
        }
    }

    /// Hands finished jobs to the notifier in one call and publishes the thread's CPU time.
    fn report(&mut self) {
        if !self.completed.is_empty() {
            (self.notifier)(std::mem::take(&mut self.completed));
        }
        let cpu = sys::thread_cpu_ns();
        self.counters.sender_cpu_ns.fetch_add(cpu - self.cpu_ns_reported, Relaxed);
        self.cpu_ns_reported = cpu;
    }

    fn drain_inbox(&mut self) -> bool {
        let commands = self.inbox.take();
        let mut shutdown = false;
        for command in commands {
            match command {
                Command::Register { conn, fd } => self.register(conn, fd),
                Command::Submit { conn, job } => self.submit(conn, job),
                Command::Unregister { conn } => self.unregister(conn, "connection unregistered"),
                Command::Warmed { conn, job } => self.warmed(conn, job),
                Command::Shutdown => shutdown = true,
            }
        }
        shutdown
    }

    fn register(&mut self, conn: u64, fd: OwnedFd) {
        // Edge-triggered: one registration for the connection's life; an edge arrives whenever
        // a full socket gains space, which is the only time a parked job needs to hear about it.
        let events = (libc::EPOLLOUT | libc::EPOLLET) as u32;
        if self.epoll.add(fd.as_raw_fd(), events, conn).is_err() {
            // Without epoll the connection could never resume after EAGAIN; refuse its jobs.
            let failed = Some(TransferError::socket(&std::io::Error::last_os_error()));
            self.conns.insert(conn, Conn { fd, jobs: VecDeque::new(), writable: false, warming: false, queued: false, failed });
            return;
        }
        self.conns.insert(conn, Conn { fd, jobs: VecDeque::new(), writable: true, warming: false, queued: false, failed: None });
    }

    fn submit(&mut self, conn_id: u64, job: Job) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            let err = TransferError::new(crate::error::UNKNOWN_CONNECTION, format!("connection {conn_id} is not registered"));
            self.finish(job, Err(err));
            return;
        };
        if let Some(err) = conn.failed.clone() {
            self.finish(job, Err(err));
            return;
        }
        conn.jobs.push_back(job);
        self.mark_ready(conn_id);
    }

    fn unregister(&mut self, conn_id: u64, why: &str) {
        let Some(mut conn) = self.conns.remove(&conn_id) else { return };
        let _ = self.epoll.delete(conn.fd.as_raw_fd());
        if !conn.writable && !conn.jobs.is_empty() && !conn.warming {
            self.counters.connections_waiting_writable.fetch_sub(1, Relaxed);
        }
        for job in conn.jobs.drain(..) {
            self.finish(job, Err(TransferError::cancelled(why)));
        }
        self.counters.connections.fetch_sub(1, Relaxed);
        // `conn.fd` (the duplicate) closes here, after the epoll registration is gone.
    }

    fn warmed(&mut self, conn_id: u64, mut job: Job) {
        job.warmed = true;
        match self.conns.get_mut(&conn_id) {
            Some(conn) => {
                conn.warming = false;
                conn.jobs.push_front(job);
                self.mark_ready(conn_id);
            }
            None => self.finish(job, Err(TransferError::cancelled("connection unregistered while warming"))),
        }
    }

    fn on_writable(&mut self, conn_id: u64) {
        let Some(conn) = self.conns.get_mut(&conn_id) else { return };
        if !conn.writable {
            conn.writable = true;
            if !conn.jobs.is_empty() && !conn.warming {
                self.counters.connections_waiting_writable.fetch_sub(1, Relaxed);
            }
        }
        self.mark_ready(conn_id);
    }

    fn mark_ready(&mut self, conn_id: u64) {
        if let Some(conn) = self.conns.get_mut(&conn_id) {
            if !conn.queued && conn.writable && !conn.warming && !conn.jobs.is_empty() {
                conn.queued = true;
                self.ready.push_back(conn_id);
            }
        }
    }

    /// One round over the connections that were ready when it started.
    fn run_ready(&mut self) {
        for _ in 0..self.ready.len() {
            let Some(conn_id) = self.ready.pop_front() else { break };
            if let Some(conn) = self.conns.get_mut(&conn_id) {
                conn.queued = false;
            }
            self.run_connection(conn_id);
            self.mark_ready(conn_id);
        }
    }

    /// Runs the connection's jobs in order until its turn's budget is spent, its socket is full,
    /// its head job goes to the warmer, or it has no more jobs.
    fn run_connection(&mut self, conn_id: u64) {
        let mut budget = self.config.turn_budget_bytes;
        loop {
            let Some(conn) = self.conns.get_mut(&conn_id) else { return };
            if !conn.writable || conn.warming {
                return;
            }
            let Some(job) = conn.jobs.front_mut() else { return };
            if job.sent == 0 && !job.warmed && !job_is_resident(job) {
                let job = conn.jobs.pop_front().expect("head job");
                conn.warming = true;
                self.counters.cold_page_waits.fetch_add(1, Relaxed);
                let request = WarmRequest { conn: conn_id, job, reply: self.inbox.clone() };
                if let Err(mpsc::SendError(request)) = self.warmer.send(request) {
                    // No warmer (shutting down): send it anyway, blocking on the disk.
                    let conn = self.conns.get_mut(&conn_id).expect("connection");
                    conn.warming = false;
                    let mut job = request.job;
                    job.warmed = true;
                    conn.jobs.push_front(job);
                }
                continue;
            }
            let fd = conn.fd.as_raw_fd();
            let mut cx = SendContext {
                sendfile_chunk_bytes: self.config.sendfile_chunk_bytes,
                copy_chunk_bytes: self.config.copy_chunk_bytes,
                counters: &self.counters,
                mappings: &mut self.mappings,
            };
            match job.run(fd, &mut budget, &mut cx) {
                Ok(Progress::Done) => {
                    let job = conn.jobs.pop_front().expect("head job");
                    self.finish(job, Ok(()));
                }
                Ok(Progress::Yielded) => return,
                Ok(Progress::Blocked) => {
                    conn.writable = false;
                    self.counters.writable_waits.fetch_add(1, Relaxed);
                    self.counters.connections_waiting_writable.fetch_add(1, Relaxed);
                    return;
                }
                Err(err) => {
                    conn.failed = Some(err.clone());
                    let jobs: Vec<Job> = conn.jobs.drain(..).collect();
                    for job in jobs {
                        self.finish(job, Err(err.clone()));
                    }
                    return;
                }
            }
        }
    }

    fn finish(&mut self, job: Job, result: Result<(), TransferError>) {
        let c = &self.counters;
        match &result {
            Ok(()) => c.jobs_completed.fetch_add(1, Relaxed),
            Err(e) if e.code == crate::error::CANCELLED => c.jobs_cancelled.fetch_add(1, Relaxed),
            Err(_) => c.jobs_failed.fetch_add(1, Relaxed),
        };
        c.jobs_in_flight.fetch_sub(1, Relaxed);
        self.completed.push(Completed { job_id: job.id, bytes_sent: job.sent, result });
    }

    fn shutdown(&mut self) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.unregister(id, "transfer engine closed");
        }
    }
}

fn job_is_resident(job: &Job) -> bool {
    job.pending_file_pieces().all(|p| residency::is_resident(&p.file, p.position, p.len))
}

/// The warmer thread: reads cold ranges into the page cache, one job at a time, then hands each job
/// back to its sender. Runs until every sender has dropped its end of the channel.
pub fn run_warmer(requests: mpsc::Receiver<WarmRequest>, counters: Arc<Counters>) {
    for request in requests {
        for piece in request.job.pending_file_pieces() {
            // A failure here is reported by the job itself when it reads the same range.
            if residency::warm(&piece.file, piece.position, piece.len).is_ok() {
                counters.warmed_bytes.fetch_add(piece.len, Relaxed);
            }
        }
        request.reply.post(Command::Warmed { conn: request.conn, job: request.job });
    }
}
