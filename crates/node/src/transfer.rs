//! Binding of the transfer engine: `NativeTransferEngine` (register Node sockets by fd, submit
//! jobs built with `NativeTransferJob`, counters), plus the benchmark's native pieces
//! (`rawFanout`, `NativeSink`). Finished jobs reach JS in batches through one threadsafe
//! function per engine; it is weak, so an idle engine does not keep the process alive.

use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use parking_lot::Mutex;
use sluice_transfer::sink::{Sink, SinkMode, SinkResult};
use sluice_transfer::{Completed, Engine, EngineConfig, FetchPath, FilePiece, Piece, TransferError};

use crate::{coded, invalid_arg, NativeSlice};

fn map_transfer_error(err: TransferError) -> Error {
    coded(err.code, err.message)
}

fn positive(name: &str, v: Option<f64>, default: usize) -> Result<usize> {
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
    pub fn add_slice(&mut self, slice: &NativeSlice) {
        push_slice(&mut self.pieces, slice);
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

fn push_slice(pieces: &mut Vec<Piece>, slice: &NativeSlice) {
    for r in &slice.slice.ranges {
        pieces.push(Piece::File(FilePiece { file: r.file.clone(), position: r.position, len: r.bytes }));
    }
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
        let mut pieces = Vec::with_capacity(slice.slice.ranges.len() + 2);
        push_bytes(&mut pieces, head);
        push_slice(&mut pieces, slice);
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
        self.slice
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

#[napi(object)]
pub struct RawFanoutResult {
    pub bytes: f64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub sendfile_calls: f64,
}

/// Which raw loop a RawFanoutTask runs.
#[derive(Clone, Copy)]
pub enum RawLoop {
    Sendfile,
    /// The io_uring experiment: linked file → pipe → socket splices.
    UringSplice,
}

pub struct RawFanoutTask {
    kind: RawLoop,
    path: String,
    fds: Vec<i32>,
    chunk_bytes: usize,
    send_buffer_bytes: Option<usize>,
    duration: Duration,
}

impl Task for RawFanoutTask {
    type Output = sluice_transfer::raw::RawResult;
    type JsValue = RawFanoutResult;

    fn compute(&mut self) -> Result<Self::Output> {
        let io = |e: std::io::Error| coded("KAFKA_STORAGE_ERROR", format!("raw fan-out of {}: {e}", self.path));
        let file = File::open(&self.path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let run = sluice_transfer::raw::RawFanout { file: &file, file_len: len, fds: &self.fds, chunk_bytes: self.chunk_bytes, send_buffer_bytes: self.send_buffer_bytes, duration: self.duration };
        match self.kind {
            RawLoop::Sendfile => sluice_transfer::raw::sendfile_fanout(&run).map_err(io),
            RawLoop::UringSplice => sluice_transfer::uring::splice_fanout(&run)
                .map(|r| sluice_transfer::raw::RawResult { bytes: r.bytes, seconds: r.seconds, cpu_seconds: r.cpu_seconds, sendfile_calls: r.submissions })
                .map_err(io),
        }
    }

    fn resolve(&mut self, _env: Env, r: Self::Output) -> Result<RawFanoutResult> {
        Ok(RawFanoutResult { bytes: r.bytes as f64, seconds: r.seconds, cpu_seconds: r.cpu_seconds, sendfile_calls: r.sendfile_calls as f64 })
    }
}

/// The fan-out benchmark's raw loops, on a pool thread, for `durationMs`; no framing, no jobs, no
/// JS. `kind` "sendfile": the baseline, sendfile of the whole file at `path` to every socket in
/// `fds`, over and over. "uring-splice": the io_uring experiment in the same shape, linked
/// file → pipe → socket splice submissions (up to `chunkBytes` and the pipe's 1 MiB per chain),
/// completions reaped in batches; its `cpuSeconds` is the submitting thread's only (the kernel runs
/// splices on io-wq worker threads, so measure the process) and `sendfileCalls` counts submissions.
#[napi(ts_return_type = "Promise<RawFanoutResult>")]
pub fn raw_fanout(
    kind: String,
    path: String,
    fds: Vec<i32>,
    chunk_bytes: f64,
    send_buffer_bytes: f64,
    duration_ms: f64,
) -> Result<AsyncTask<RawFanoutTask>> {
    let kind = match kind.as_str() {
        "sendfile" => RawLoop::Sendfile,
        "uring-splice" => RawLoop::UringSplice,
        other => return Err(invalid_arg(format!("raw loop must be sendfile or uring-splice, got {other}"))),
    };
    raw_task(kind, path, fds, chunk_bytes, send_buffer_bytes, duration_ms)
}

fn raw_task(kind: RawLoop, path: String, fds: Vec<i32>, chunk_bytes: f64, send_buffer_bytes: f64, duration_ms: f64) -> Result<AsyncTask<RawFanoutTask>> {
    Ok(AsyncTask::new(RawFanoutTask {
        kind,
        path,
        fds,
        chunk_bytes: positive("chunkBytes", Some(chunk_bytes), 0)?,
        send_buffer_bytes: if send_buffer_bytes == 0.0 { None } else { Some(positive("sendBufferBytes", Some(send_buffer_bytes), 0)?) },
        duration: Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0),
    }))
}

#[napi(object)]
pub struct SinkConsumerResult {
    pub bytes: f64,
    pub payload_bytes: f64,
    pub frames: f64,
    pub crc: u32,
    pub error: Option<String>,
}

#[napi(object)]
pub struct NativeSinkResult {
    pub consumers: Vec<SinkConsumerResult>,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

/// The benchmark's consumers: a native thread that connects `connections` sockets to
/// `host:port` and reads them until the server closes each one.
#[napi]
pub struct NativeSink {
    sink: Mutex<Option<Sink>>,
    progress: Progress,
}

fn socket_addr(host: &str, port: u32) -> Result<SocketAddr> {
    format!("{host}:{port}").parse().map_err(|e| invalid_arg(format!("bad address: {e}")))
}

/// What a benchmark's consumer thread reports while it runs.
struct Progress {
    received: Arc<AtomicU64>,
    cpu_ns: Arc<AtomicU64>,
}

impl Progress {
    fn received(&self) -> f64 {
        self.received.load(Relaxed) as f64
    }

    fn cpu_seconds(&self) -> f64 {
        self.cpu_ns.load(Relaxed) as f64 / 1e9
    }
}

#[napi]
impl NativeSink {
    /// `mode`: "raw" (count bytes), "framed" (check framing), "crc" (framing + CRC-32C of payloads).
    #[napi(constructor)]
    pub fn new(host: String, port: u32, connections: u32, mode: String) -> Result<Self> {
        let mode = match mode.as_str() {
            "raw" => SinkMode::Raw,
            "framed" => SinkMode::Framed,
            "crc" => SinkMode::FramedCrc,
            other => return Err(invalid_arg(format!("unknown sink mode {other:?}"))),
        };
        let addr = socket_addr(&host, port)?;
        let sink = Sink::start(addr, connections as usize, mode);
        let progress = Progress { received: sink.received(), cpu_ns: sink.cpu_ns() };
        Ok(NativeSink { sink: Mutex::new(Some(sink)), progress })
    }

    /// Bytes received so far by all consumers.
    #[napi(getter)]
    pub fn received(&self) -> f64 {
        self.progress.received()
    }

    /// CPU seconds the sink thread has used so far.
    #[napi(getter)]
    pub fn cpu_seconds(&self) -> f64 {
        self.progress.cpu_seconds()
    }

    /// Resolves when every stream has ended (on a pool thread).
    #[napi(ts_return_type = "Promise<NativeSinkResult>")]
    pub fn wait(&self) -> Result<AsyncTask<SinkWaitTask>> {
        let sink = self.sink.lock().take().ok_or_else(|| invalid_arg("wait() was already called".into()))?;
        Ok(AsyncTask::new(SinkWaitTask(Some(sink))))
    }
}

pub struct SinkWaitTask(Option<Sink>);

impl Task for SinkWaitTask {
    type Output = SinkResult;
    type JsValue = NativeSinkResult;

    fn compute(&mut self) -> Result<SinkResult> {
        let sink = self.0.take().ok_or_else(|| invalid_arg("sink already awaited".into()))?;
        sink.wait().map_err(|e| coded("NETWORK_EXCEPTION", format!("sink failed: {e}")))
    }

    fn resolve(&mut self, _env: Env, r: SinkResult) -> Result<NativeSinkResult> {
        Ok(NativeSinkResult {
            consumers: r
                .consumers
                .into_iter()
                .map(|c| SinkConsumerResult {
                    bytes: c.bytes as f64,
                    payload_bytes: c.payload_bytes as f64,
                    frames: c.frames as f64,
                    crc: c.crc,
                    error: c.error,
                })
                .collect(),
            seconds: r.seconds,
            cpu_seconds: r.cpu_seconds,
        })
    }
}

#[napi(object)]
pub struct FetchConsumerInfo {
    pub bytes: f64,
    pub data_bytes: f64,
    pub fetches: f64,
    pub batches: f64,
    pub next_offset: BigInt,
    pub crc_checked: f64,
    pub error: Option<String>,
}

#[napi(object)]
pub struct NativeFetchLoadResult {
    pub consumers: Vec<FetchConsumerInfo>,
    /// Microseconds per fetch, request sent to response complete.
    pub latencies_us: Vec<u32>,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

/// Push subscriptions for NativeFetchLoad: a Credit request frame whose u32 byte count sits at
/// `bytesAt`, and the window the Subscribe template asked for.
#[napi(object)]
pub struct FetchLoadSubscribe {
    pub credit_template: Buffer,
    pub credit_bytes_at: u32,
    pub window_bytes: u32,
}

/// The broker benchmark's consumers: one native thread, `connections` sockets, each fetching
/// from `startOffset` to `endOffset` with `template` (a fetch request frame whose u32 correlation
/// id at `correlationAt` and i64 offset at `offsetAt` are patched per request). The first `verify`
/// consumers check every batch's CRC-32C. An `endOffset` of 2^63-1 follows the tail until stop().
/// `kafkaHeadBytes` 0 reads Sluice responses; otherwise Kafka Fetch responses whose records start
/// that many bytes in. With `subscribe`, `template` is a Subscribe request sent once, and the
/// consumers read pushes and grant credit instead of fetching.
#[napi]
pub struct NativeFetchLoad {
    load: Mutex<Option<sluice_transfer::fetch_load::FetchLoad>>,
    progress: Progress,
    stop: Arc<AtomicBool>,
}

#[napi]
impl NativeFetchLoad {
    #[napi(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: String,
        port: u32,
        connections: u32,
        template: Buffer,
        correlation_at: u32,
        offset_at: u32,
        start_offset: BigInt,
        end_offset: BigInt,
        verify: u32,
        kafka_head_bytes: Option<u32>,
        subscribe: Option<FetchLoadSubscribe>,
    ) -> Result<Self> {
        let addr = socket_addr(&host, port)?;
        let config = sluice_transfer::fetch_load::FetchLoadConfig {
            addr,
            connections: connections as usize,
            template: template.to_vec(),
            correlation_at: correlation_at as usize,
            offset_at: offset_at as usize,
            start_offset: start_offset.get_i64().0,
            end_offset: end_offset.get_i64().0,
            verify: verify as usize,
            response_head_bytes: kafka_head_bytes.unwrap_or(0) as usize,
            subscribe: subscribe.map(|s| sluice_transfer::fetch_load::SubscribeConfig {
                credit_template: s.credit_template.to_vec(),
                credit_bytes_at: s.credit_bytes_at as usize,
                window_bytes: s.window_bytes as u64,
            }),
        };
        let load = sluice_transfer::fetch_load::FetchLoad::start(config).map_err(|e| invalid_arg(e.to_string()))?;
        let progress = Progress { received: load.received(), cpu_ns: load.cpu_ns() };
        let stop = load.stopper();
        Ok(NativeFetchLoad { load: Mutex::new(Some(load)), progress, stop })
    }

    /// Ends the run soon (consumers following the tail run until this); wait() then resolves.
    #[napi]
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
    }

    /// Bytes received so far by all consumers.
    #[napi(getter)]
    pub fn received(&self) -> f64 {
        self.progress.received()
    }

    /// CPU seconds the consumers' thread has used so far.
    #[napi(getter)]
    pub fn cpu_seconds(&self) -> f64 {
        self.progress.cpu_seconds()
    }

    /// Resolves when every consumer reached the end offset or failed (on a pool thread).
    #[napi(ts_return_type = "Promise<NativeFetchLoadResult>")]
    pub fn wait(&self) -> Result<AsyncTask<FetchLoadTask>> {
        let load = self.load.lock().take().ok_or_else(|| invalid_arg("wait() was already called".into()))?;
        Ok(AsyncTask::new(FetchLoadTask { load: Some(load) }))
    }
}

pub struct FetchLoadTask {
    load: Option<sluice_transfer::fetch_load::FetchLoad>,
}

impl Task for FetchLoadTask {
    type Output = sluice_transfer::fetch_load::FetchLoadResult;
    type JsValue = NativeFetchLoadResult;

    fn compute(&mut self) -> Result<Self::Output> {
        self.load.take().expect("load").wait().map_err(|e| coded("NETWORK_EXCEPTION", e.to_string()))
    }

    fn resolve(&mut self, _env: Env, r: Self::Output) -> Result<Self::JsValue> {
        Ok(NativeFetchLoadResult {
            consumers: r
                .consumers
                .into_iter()
                .map(|c| FetchConsumerInfo {
                    bytes: c.bytes as f64,
                    data_bytes: c.data_bytes as f64,
                    fetches: c.fetches as f64,
                    batches: c.batches as f64,
                    next_offset: BigInt::from(c.next_offset),
                    crc_checked: c.crc_checked as f64,
                    error: c.error,
                })
                .collect(),
            latencies_us: r.latencies_us,
            seconds: r.seconds,
            cpu_seconds: r.cpu_seconds,
        })
    }
}
