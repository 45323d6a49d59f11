//! Binding of the transfer engine: `NativeTransferEngine` (register Node sockets by fd, submit
//! jobs built with `NativeTransferJob`, counters) and `NativeSlice.dupFileDescriptors` for the
//! `node` fetch path. Finished jobs reach JS in batches through one threadsafe function per
//! engine; it is weak, so an idle engine does not keep the process alive. The benchmarks' native
//! load generators are bound in `bench.rs`, only with the `bench` feature.

use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use sluice_transfer::{Completed, Engine, EngineConfig, FetchPath, FilePiece, Piece, TransferError};

use crate::{coded, invalid_arg, NativeSlice};

fn map_transfer_error(err: TransferError) -> Error {
    coded(err.code, err.message)
}

pub(crate) fn positive(name: &str, v: Option<f64>, default: usize) -> Result<usize> {
    match v {
        None => Ok(default),
        Some(x) if x >= 1.0 && x <= 1e12 && x.fract() == 0.0 => Ok(x as usize),
        Some(x) => Err(invalid_arg(format!("{name} must be a positive integer, got {x}"))),
    }
}

/// Settings of a transfer engine; omitted fields take the measured defaults.
#[napi(object)]
#[derive(Default)]
pub struct TransferOptions {
    pub sender_threads: Option<f64>,
    /// The most one sendfile call is asked to move (default 1 GiB: the rest of the range; the kernel takes what the socket buffer holds).
    pub sendfile_chunk_bytes: Option<f64>,
    /// Bytes per write on the mmap and copy paths, and the copy path's buffer (default 1 MiB).
    pub copy_chunk_bytes: Option<f64>,
    /// SO_SNDBUF for registered sockets (default 102400); 0 leaves the kernel's autotuning on.
    pub socket_send_buffer_bytes: Option<f64>,
    /// Bytes one connection may write before the next ready one gets a turn (default 1 MiB).
    pub turn_budget_bytes: Option<f64>,
}

fn engine_config(o: &TransferOptions) -> Result<EngineConfig> {
    let d = EngineConfig::default();
    let send_buffer = match o.socket_send_buffer_bytes {
        None => d.socket_send_buffer_bytes,
        Some(x) if x == 0.0 => None,
        Some(_) => Some(positive("socketSendBufferBytes", o.socket_send_buffer_bytes, 0)?),
    };
    Ok(EngineConfig {
        sender_threads: positive("senderThreads", o.sender_threads, d.sender_threads)?,
        sendfile_chunk_bytes: positive("sendfileChunkBytes", o.sendfile_chunk_bytes, d.sendfile_chunk_bytes)?,
        copy_chunk_bytes: positive("copyChunkBytes", o.copy_chunk_bytes, d.copy_chunk_bytes)?,
        socket_send_buffer_bytes: send_buffer,
        turn_budget_bytes: positive("turnBudgetBytes", o.turn_budget_bytes, d.turn_budget_bytes as usize)? as u64,
    })
}

/// A finished job. `code` and `message` are set when it did not complete.
#[napi(object)]
pub struct TransferCompletion {
    pub job_id: f64,
    pub bytes_sent: f64,
    pub code: Option<String>,
    pub message: Option<String>,
}

#[napi(object)]
pub struct TransferCounters {
    pub sendfile_bytes: f64,
    pub sendfile_calls: f64,
    pub mmap_bytes: f64,
    pub copy_bytes: f64,
    /// Bytes the copy path read into user-space buffers.
    pub copied_bytes: f64,
    pub header_bytes: f64,
    pub write_calls: f64,
    pub jobs_submitted: f64,
    pub jobs_completed: f64,
    pub jobs_failed: f64,
    pub jobs_cancelled: f64,
    pub jobs_in_flight: f64,
    pub connections_waiting_writable: f64,
    pub writable_waits: f64,
    pub cold_page_waits: f64,
    pub warmed_bytes: f64,
    pub connections: f64,
    pub sender_cpu_seconds: f64,
}

type CompletionCallback = ThreadsafeFunction<Vec<TransferCompletion>, (), Vec<TransferCompletion>, Status, false, true>;

/// A response being assembled for the transfer engine: bytes and slices, in order.
#[napi]
#[derive(Default)]
pub struct NativeTransferJob {
    pieces: Vec<Piece>,
}

#[napi]
impl NativeTransferJob {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes (copied now, so the Buffer may be reused). Bytes right after bytes join the
    /// same piece: the sender writes them with one send(2).
    #[napi]
    pub fn add_bytes(&mut self, bytes: &[u8]) {
        push_bytes(&mut self.pieces, bytes);
    }

    /// Appends the file ranges of a slice. The job holds the segment files open until it finishes.
    #[napi]
    pub fn add_slice(&mut self, slice: &NativeSlice) -> Result<()> {
        push_slice(&mut self.pieces, slice)
    }

    /// Total bytes the job will write.
    #[napi(getter)]
    pub fn bytes(&self) -> f64 {
        self.pieces.iter().map(Piece::len).sum::<u64>() as f64
    }
}

fn push_bytes(pieces: &mut Vec<Piece>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match pieces.last_mut() {
        Some(Piece::Bytes(last)) => last.extend_from_slice(bytes),
        _ => pieces.push(Piece::Bytes(bytes.to_vec())),
    }
}

/// A released slice (its log was closed with `releaseSlices`) is refused: its bytes are gone, and a
/// response whose head counted them must not go out short.
fn push_slice(pieces: &mut Vec<Piece>, slice: &NativeSlice) -> Result<()> {
    let held = slice.get();
    if held.released {
        return Err(coded("LOG_CLOSED", "the slice's log was closed before it was sent".to_string()));
    }
    for r in &held.slice.ranges {
        pieces.push(Piece::File(FilePiece { file: r.file.clone(), position: r.position, len: r.bytes }));
    }
    Ok(())
}

/// Native sender threads that write jobs to registered sockets (see crates/transfer).
#[napi]
pub struct NativeTransferEngine {
    engine: Arc<Engine>,
}

#[napi]
impl NativeTransferEngine {
    #[napi(constructor, ts_args_type = "options: TransferOptions | undefined | null, onComplete: (completions: TransferCompletion[]) => void")]
    pub fn new(options: Option<TransferOptions>, on_complete: CompletionCallback) -> Result<Self> {
        let config = engine_config(&options.unwrap_or_default())?;
        let callback = Arc::new(on_complete);
        let notifier = Arc::new(move |batch: Vec<Completed>| {
            let out = batch
                .into_iter()
                .map(|c| {
                    let (code, message) = match c.result {
                        Ok(()) => (None, None),
                        Err(e) => (Some(e.code.to_string()), Some(e.message)),
                    };
                    TransferCompletion { job_id: c.job_id as f64, bytes_sent: c.bytes_sent as f64, code, message }
                })
                .collect();
            callback.call(out, ThreadsafeFunctionCallMode::NonBlocking);
        });
        let engine = Engine::start(config, notifier).map_err(map_transfer_error)?;
        Ok(NativeTransferEngine { engine: Arc::new(engine) })
    }

    /// Registers a connected socket by fd (a Node socket's `_handle.fd`); returns the connection id.
    /// `sendBufferBytes` overrides the engine's SO_SNDBUF (0: leave autotuning on).
    #[napi]
    pub fn register(&self, fd: i32, send_buffer_bytes: Option<f64>) -> Result<f64> {
        let send_buffer = match send_buffer_bytes {
            None => self.engine.config().socket_send_buffer_bytes,
            Some(x) if x == 0.0 => None,
            Some(_) => Some(positive("sendBufferBytes", send_buffer_bytes, 0)?),
        };
        Ok(self.engine.register_with(fd, send_buffer).map_err(map_transfer_error)? as f64)
    }

    /// Queues `job` (emptied by the call) on the connection behind its earlier jobs, along
    /// `path` ("sendfile" | "mmap" | "copy"); returns the job id its completion will carry.
    #[napi]
    pub fn submit(&self, conn: f64, path: String, job: &mut NativeTransferJob) -> Result<f64> {
        let path = FetchPath::parse(&path).ok_or_else(|| invalid_arg(format!("unknown native fetch path {path:?}")))?;
        let pieces = std::mem::take(&mut job.pieces);
        Ok(self.engine.submit(conn as u64, path, pieces).map_err(map_transfer_error)? as f64)
    }

    /// Queues the commonest response in one call: `head` bytes, the file ranges of `slice`, `tail`
    /// bytes (either may be empty). The same as a NativeTransferJob of those three, without the
    /// job object's calls (a fetch answered by one partition costs one napi crossing, not five).
    #[napi]
    pub fn submit_slice(&self, conn: f64, path: String, head: &[u8], slice: &NativeSlice, tail: &[u8]) -> Result<f64> {
        let path = FetchPath::parse(&path).ok_or_else(|| invalid_arg(format!("unknown native fetch path {path:?}")))?;
        let mut pieces = Vec::with_capacity(slice.get().slice.ranges.len() + 2);
        push_bytes(&mut pieces, head);
        push_slice(&mut pieces, slice)?;
        push_bytes(&mut pieces, tail);
        Ok(self.engine.submit(conn as u64, path, pieces).map_err(map_transfer_error)? as f64)
    }

    /// Cancels the connection's jobs and closes the engine's duplicate of its fd.
    #[napi]
    pub fn unregister(&self, conn: f64) {
        self.engine.unregister(conn as u64);
    }

    #[napi]
    pub fn counters(&self) -> TransferCounters {
        let s = self.engine.counters();
        TransferCounters {
            sendfile_bytes: s.sendfile_bytes as f64,
            sendfile_calls: s.sendfile_calls as f64,
            mmap_bytes: s.mmap_bytes as f64,
            copy_bytes: s.copy_bytes as f64,
            copied_bytes: s.copied_bytes as f64,
            header_bytes: s.header_bytes as f64,
            write_calls: s.write_calls as f64,
            jobs_submitted: s.jobs_submitted as f64,
            jobs_completed: s.jobs_completed as f64,
            jobs_failed: s.jobs_failed as f64,
            jobs_cancelled: s.jobs_cancelled as f64,
            jobs_in_flight: s.jobs_in_flight as f64,
            connections_waiting_writable: s.connections_waiting_writable as f64,
            writable_waits: s.writable_waits as f64,
            cold_page_waits: s.cold_page_waits as f64,
            warmed_bytes: s.warmed_bytes as f64,
            connections: s.connections as f64,
            sender_cpu_seconds: s.sender_cpu_ns as f64 / 1e9,
        }
    }

    /// Cancels every job, closes every duplicated fd and stops the threads (on a pool thread).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<CloseEngineTask> {
        AsyncTask::new(CloseEngineTask(self.engine.clone()))
    }
}

pub struct CloseEngineTask(Arc<Engine>);

impl Task for CloseEngineTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.0.close();
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }
}

#[napi]
impl NativeSlice {
    /// Duplicates of the ranges' file descriptors, one per range, for a reader outside the
    /// engine (the `node` fetch path). The caller owns them and must close them.
    #[napi]
    pub fn dup_file_descriptors(&self) -> Result<Vec<i32>> {
        let held = self.get();
        if held.released {
            return Err(coded("LOG_CLOSED", "the slice's log was closed before it was sent".to_string()));
        }
        held.slice
            .ranges
            .iter()
            .map(|r| {
                sluice_transfer::sys::dup(r.file.as_raw_fd())
                    .map(|fd| fd.into_raw_fd())
                    .map_err(|e| coded("KAFKA_STORAGE_ERROR", format!("dup of {} failed: {e}", r.path.display())))
            })
            .collect()
    }
}
