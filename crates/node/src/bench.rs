//! Bindings of the benchmarks' native load generators (`crates/loadgen`), compiled only with the
//! `bench` cargo feature, so the product's addon does not carry them: `rawFanout` (the raw
//! sendfile loop and the io_uring splice experiment), `NativeSink` (the fan-out benchmark's
//! consumers) and `NativeFetchLoad` (the broker benchmarks' and load harness's fetch and subscribe
//! consumers). Only `bench/` and `test/harness/` call them; `npm run build:native` builds with the
//! feature, the tarball's install (`scripts/install.mjs`) without.

use std::fs::File;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use parking_lot::Mutex;
use sluice_loadgen::fetch_load::{FetchLoad, FetchLoadConfig, FetchLoadResult, SubscribeConfig};
use sluice_loadgen::raw::{self, RawFanout, RawResult};
use sluice_loadgen::sink::{Sink, SinkMode, SinkResult};
use sluice_loadgen::uring;

use crate::transfer::positive;
use crate::{coded, invalid_arg};

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
    type Output = RawResult;
    type JsValue = RawFanoutResult;

    fn compute(&mut self) -> Result<Self::Output> {
        let io = |e: std::io::Error| coded("KAFKA_STORAGE_ERROR", format!("raw fan-out of {}: {e}", self.path));
        let file = File::open(&self.path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let run = RawFanout { file: &file, file_len: len, fds: &self.fds, chunk_bytes: self.chunk_bytes, send_buffer_bytes: self.send_buffer_bytes, duration: self.duration };
        match self.kind {
            RawLoop::Sendfile => raw::sendfile_fanout(&run).map_err(io),
            RawLoop::UringSplice => uring::splice_fanout(&run)
                .map(|r| RawResult { bytes: r.bytes, seconds: r.seconds, cpu_seconds: r.cpu_seconds, sendfile_calls: r.submissions })
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
    load: Mutex<Option<FetchLoad>>,
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
        kafka_tail_bytes: Option<u32>,
    ) -> Result<Self> {
        let addr = socket_addr(&host, port)?;
        let config = FetchLoadConfig {
            addr,
            connections: connections as usize,
            template: template.to_vec(),
            correlation_at: correlation_at as usize,
            offset_at: offset_at as usize,
            start_offset: start_offset.get_i64().0,
            end_offset: end_offset.get_i64().0,
            verify: verify as usize,
            response_head_bytes: kafka_head_bytes.unwrap_or(0) as usize,
            response_tail_bytes: kafka_tail_bytes.map(|t| t as usize),
            subscribe: subscribe.map(|s| SubscribeConfig {
                credit_template: s.credit_template.to_vec(),
                credit_bytes_at: s.credit_bytes_at as usize,
                window_bytes: s.window_bytes as u64,
            }),
        };
        let load = FetchLoad::start(config).map_err(|e| invalid_arg(e.to_string()))?;
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
    load: Option<FetchLoad>,
}

impl Task for FetchLoadTask {
    type Output = FetchLoadResult;
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
