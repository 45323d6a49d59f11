//! napi-rs binding of the storage core. It only converts types and schedules work: blocking calls
//! (open with recovery, flush, close, delete records, truncation, reset) run as `AsyncTask`s on libuv's pool and resolve promises;
//! cheap calls (append into the page cache, slice lookups) run on the caller's thread.
//! Every error becomes a JS Error whose `code` is the core's stable code (`map_error`).
//! Offsets cross as BigInt; byte counts and millisecond times as numbers.
//! `transfer.rs` binds the transfer engine; `bench.rs`, compiled only with the `bench` feature,
//! binds the benchmarks' load generators (`crates/loadgen`), which the product's addon leaves out.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

mod transfer;
#[cfg(feature = "bench")]
mod bench;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_log::{AppendInfo, Log, LogConfig, LogError, OpenReport, Slice};

/// One place where core errors become JS errors. napi-rs cannot return a custom `code` from a
/// function, so the reason carries it: `"<CODE>|<message>"`; the TS facade (`src/storage/native.ts`)
/// splits it into `error.code` and `error.message`.
fn map_error(err: LogError) -> Error {
    coded(err.code(), err.to_string())
}

pub(crate) fn coded(code: &str, message: String) -> Error {
    Error::new(Status::GenericFailure, format!("{code}|{message}"))
}


pub(crate) fn invalid_arg(message: String) -> Error {
    coded("INVALID_ARGUMENT", message)
}

fn offset_arg(name: &str, value: BigInt) -> Result<i64> {
    let (v, lossless) = value.get_i64();
    if !lossless {
        return Err(invalid_arg(format!("{name} does not fit in a signed 64-bit offset")));
    }
    Ok(v)
}

/// CRC-32C (Castagnoli) of `data`, hardware-accelerated; `initial` continues an earlier CRC.
#[napi(js_name = "crc32c")]
pub fn crc32c(data: &[u8], initial: Option<u32>) -> u32 {
    sluice_log::crc32c_append(initial.unwrap_or(0), data)
}

/// How long this process's fsync rounds have taken (every log's: acks=all flushes, the background
/// flusher's, truncations'): rounds per bucket, not cumulative, under `bucketBoundsSeconds`.
#[napi(object)]
pub struct FsyncLatency {
    pub bucket_bounds_seconds: Vec<f64>,
    pub buckets: Vec<f64>,
    pub count: f64,
    pub sum_seconds: f64,
}

#[napi]
pub fn fsync_latency() -> FsyncLatency {
    let s = sluice_log::fsync_latency::snapshot();
    FsyncLatency {
        bucket_bounds_seconds: sluice_log::fsync_latency::BUCKET_BOUNDS_US.iter().map(|&us| us as f64 / 1e6).collect(),
        buckets: s.buckets.iter().map(|&n| n as f64).collect(),
        count: s.count as f64,
        sum_seconds: s.sum_us as f64 / 1e6,
    }
}

/// The records of a compressed batch (everything after its 61-byte header), decompressed:
/// `codec` is the batch's attributes & 7 (1 gzip, 2 snappy, 3 lz4, 4 zstd); at most `max_bytes`
/// come out. CORRUPT_MESSAGE for an unknown codec, bytes that do not decode, or more than that.
#[napi]
pub fn decompress_records(codec: u32, data: &[u8], max_bytes: f64) -> Result<Buffer> {
    let codec = u8::try_from(codec).map_err(|_| invalid_arg(format!("codec {codec} is not a batch's compression bits")))?;
    Ok(sluice_log::compression::decompress(codec, data, max_bytes.max(0.0) as usize).map_err(map_error)?.into())
}

/// Per-log settings; omitted fields take the core's defaults.
#[napi(object)]
#[derive(Default)]
pub struct LogOptions {
    pub segment_bytes: Option<i64>,
    pub segment_ms: Option<i64>,
    pub index_interval_bytes: Option<i64>,
    pub max_index_bytes: Option<i64>,
    pub max_batch_bytes: Option<i64>,
    pub retention_bytes: Option<i64>,
    pub retention_ms: Option<i64>,
    pub flush_interval_ms: Option<i64>,
    pub flush_interval_bytes: Option<i64>,
    pub leader_epoch: Option<i32>,
}

fn to_config(o: &LogOptions) -> Result<LogConfig> {
    let d = LogConfig::default();
    let non_negative = |name: &str, v: Option<i64>| -> Result<Option<u64>> {
        match v {
            Some(x) if x < 0 => Err(invalid_arg(format!("{name} must not be negative, got {x}"))),
            other => Ok(other.map(|x| x as u64)),
        }
    };
    Ok(LogConfig {
        segment_bytes: non_negative("segmentBytes", o.segment_bytes)?.unwrap_or(d.segment_bytes),
        segment_ms: o.segment_ms.unwrap_or(d.segment_ms),
        index_interval_bytes: non_negative("indexIntervalBytes", o.index_interval_bytes)?.unwrap_or(d.index_interval_bytes),
        max_index_bytes: non_negative("maxIndexBytes", o.max_index_bytes)?.map_or(d.max_index_bytes, |v| v as usize),
        max_batch_bytes: non_negative("maxBatchBytes", o.max_batch_bytes)?.map_or(d.max_batch_bytes, |v| v as usize),
        retention_bytes: o.retention_bytes.unwrap_or(d.retention_bytes),
        retention_ms: o.retention_ms.unwrap_or(d.retention_ms),
        flush_interval_ms: non_negative("flushIntervalMs", o.flush_interval_ms)?,
        flush_interval_bytes: non_negative("flushIntervalBytes", o.flush_interval_bytes)?,
        leader_epoch: o.leader_epoch.unwrap_or(d.leader_epoch),
    })
}

/// Checks `options` as opening a log would (INVALID_CONFIG / INVALID_ARGUMENT), without opening one.
#[napi]
pub fn validate_log_options(options: LogOptions) -> Result<()> {
    to_config(&options)?.validate().map_err(map_error)
}

#[napi(object)]
pub struct SegmentRecoveryReport {
    pub base_offset: BigInt,
    pub valid_bytes: f64,
    pub truncated_bytes: f64,
    pub reason: Option<String>,
}

#[napi(object)]
pub struct OpenResult {
    pub clean_shutdown: bool,
    pub recovered: Vec<SegmentRecoveryReport>,
    pub deleted_segments: Vec<BigInt>,
}

fn append_result(info: AppendInfo) -> AppendResult {
    AppendResult {
        base_offset: BigInt::from(info.base_offset),
        last_offset: BigInt::from(info.last_offset),
        append_time_ms: info.append_time_ms,
        batches: info.batches as u32,
    }
}

fn open_result(r: &OpenReport) -> OpenResult {
    OpenResult {
        clean_shutdown: r.clean_shutdown,
        recovered: r
            .recovered
            .iter()
            .map(|s| SegmentRecoveryReport {
                base_offset: BigInt::from(s.base_offset),
                valid_bytes: s.valid_bytes as f64,
                truncated_bytes: s.truncated_bytes as f64,
                reason: s.reason.clone(),
            })
            .collect(),
        deleted_segments: r.deleted_segments.iter().map(|b| BigInt::from(*b)).collect(),
    }
}

#[napi(object)]
pub struct AppendResult {
    pub base_offset: BigInt,
    pub last_offset: BigInt,
    pub append_time_ms: i64,
    pub batches: u32,
}

#[napi(object)]
pub struct ReadResult {
    pub data: Buffer,
    pub high_watermark: BigInt,
    pub log_start_offset: BigInt,
}

#[napi(object)]
pub struct RetentionResult {
    pub deleted_segments: Vec<BigInt>,
    pub deleted_bytes: f64,
    pub log_start_offset: BigInt,
}

#[napi(object)]
pub struct NativeLogStats {
    pub high_watermark: BigInt,
    pub log_start_offset: BigInt,
    pub recovery_point: BigInt,
    pub segments: u32,
    pub size_bytes: f64,
    pub fsync_rounds: f64,
    pub flush_calls: f64,
}

#[napi(object)]
pub struct FileRangeInfo {
    pub path: String,
    pub segment_base_offset: BigInt,
    /// Byte position in the segment's log file (< 2^31).
    pub position: f64,
    pub bytes: f64,
    pub first_offset: BigInt,
    pub next_offset: BigInt,
}

/// A partition log opened by the core.
#[napi]
pub struct NativeLog {
    inner: Arc<Log>,
    report: OpenReport,
    /// Slices handed out and maybe still held by JS objects the garbage collector has not freed:
    /// a close that asks for it lets their segment files go too (see `NativeSlice`).
    issued: Arc<Issued>,
}

/// The slices a log handed out, weakly: pruned of dropped ones as it grows.
#[derive(Default)]
pub struct Issued(Mutex<Vec<Weak<Mutex<HeldSlice>>>>);

impl Issued {
    fn track(&self, slice: &Arc<Mutex<HeldSlice>>) {
        let mut issued = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if issued.len() >= 256 && issued.len().is_power_of_two() {
            issued.retain(|w| w.strong_count() > 0);
        }
        issued.push(Arc::downgrade(slice));
    }

    /// Empties every slice still alive: their file handles close now (jobs already submitted to
    /// the transfer engine hold their own), and using one to send is refused from then on.
    fn release_all(&self) {
        for slice in std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner())).iter().filter_map(Weak::upgrade) {
            let mut held = slice.lock().unwrap_or_else(|e| e.into_inner());
            held.slice.ranges.clear();
            held.released = true;
        }
    }
}

pub struct OpenTask {
    dir: PathBuf,
    config: LogConfig,
}

impl Task for OpenTask {
    type Output = (Arc<Log>, OpenReport);
    type JsValue = NativeLog;

    fn compute(&mut self) -> Result<Self::Output> {
        Log::open(&self.dir, self.config.clone()).map_err(map_error)
    }

    fn resolve(&mut self, _env: Env, (inner, report): Self::Output) -> Result<Self::JsValue> {
        Ok(NativeLog { inner, report, issued: Arc::default() })
    }
}

pub struct FlushTask(Arc<Log>);

impl Task for FlushTask {
    type Output = i64;
    type JsValue = BigInt;

    fn compute(&mut self) -> Result<i64> {
        self.0.flush().map_err(map_error)
    }

    fn resolve(&mut self, _env: Env, point: i64) -> Result<BigInt> {
        Ok(BigInt::from(point))
    }
}

/// A blocking log operation that takes an offset and answers one (DeleteRecords: the new log
/// start; truncation: the new log end), run on the libuv pool.
pub struct OffsetTask(Arc<Log>, i64, fn(&Log, i64) -> sluice_log::Result<i64>);

impl Task for OffsetTask {
    type Output = i64;
    type JsValue = BigInt;

    fn compute(&mut self) -> Result<i64> {
        (self.2)(&self.0, self.1).map_err(map_error)
    }

    fn resolve(&mut self, _env: Env, offset: i64) -> Result<BigInt> {
        Ok(BigInt::from(offset))
    }
}

pub struct ResetTask(Arc<Log>, i64);

impl Task for ResetTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        self.0.truncate_fully_and_start_at(self.1).map_err(map_error)
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }
}

/// An optional upper bound on offsets (a slice's `maxOffset`); none is no bound.
fn max_offset_arg(value: Option<BigInt>) -> Result<i64> {
    value.map_or(Ok(i64::MAX), |v| offset_arg("maxOffset", v))
}

/// The first batch carrying the log's largest timestamp.
#[napi(object)]
pub struct MaxTimestampBatch {
    pub base_offset: BigInt,
    pub max_timestamp: i64,
}

pub struct CloseTask(Arc<Log>, Option<Arc<Issued>>);

impl Task for CloseTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        let closed = self.0.close().map_err(map_error);
        if let Some(issued) = &self.1 {
            issued.release_all();
        }
        closed
    }

    fn resolve(&mut self, _env: Env, _: ()) -> Result<()> {
        Ok(())
    }
}

#[napi]
impl NativeLog {
    /// Opens (creating if needed) the log in `dir`, recovering it after an unclean stop, on a
    /// pool thread.
    #[napi(ts_return_type = "Promise<NativeLog>")]
    pub fn open(dir: String, options: Option<LogOptions>) -> Result<AsyncTask<OpenTask>> {
        let config = to_config(&options.unwrap_or_default())?;
        Ok(AsyncTask::new(OpenTask { dir: PathBuf::from(dir), config }))
    }

    /// What opening found: clean or not, segments scanned and truncated, segments dropped.
    #[napi(getter)]
    pub fn open_report(&self) -> OpenResult {
        open_result(&self.report)
    }

    /// Validates and appends one or more RecordBatch v2 in `batches`, all or nothing. Stamps the
    /// assigned base offsets into `batches` in place. Writes into the page cache on this thread.
    #[napi]
    pub fn append(&self, mut batches: Buffer, now_ms: i64) -> Result<AppendResult> {
        let info = self.inner.append(batches.as_mut(), now_ms).map_err(map_error)?;
        Ok(append_result(info))
    }

    /// Appends batches a leader wrote (offsets and leader epochs set) byte for byte, all or
    /// nothing: validated as `append` validates, and the first must start at the log end and each
    /// next where the one before ends (OFFSET_OUT_OF_SEQUENCE otherwise). On this thread.
    #[napi]
    pub fn append_replica(&self, batches: Buffer, now_ms: i64) -> Result<AppendResult> {
        let info = self.inner.append_replica(batches.as_ref(), now_ms).map_err(map_error)?;
        Ok(append_result(info))
    }

    /// The epoch appends stamp into their batches from now on; INVALID_CONFIG below the current one.
    #[napi]
    pub fn set_leader_epoch(&self, epoch: i32) -> Result<()> {
        self.inner.set_leader_epoch(epoch).map_err(map_error)
    }

    #[napi(getter)]
    pub fn leader_epoch(&self) -> i32 {
        self.inner.leader_epoch()
    }

    /// Removes every batch at or after `offset` (a batch holding it goes whole), durably, on a pool
    /// thread; resolves with the new log end. OFFSET_OUT_OF_RANGE below the log start.
    #[napi(ts_return_type = "Promise<bigint>")]
    pub fn truncate_to(&self, offset: BigInt) -> Result<AsyncTask<OffsetTask>> {
        Ok(AsyncTask::new(OffsetTask(self.inner.clone(), offset_arg("offset", offset)?, Log::truncate_to)))
    }

    /// Deletes every segment and starts an empty log at `offset` (log start = log end = offset),
    /// durably, on a pool thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn truncate_fully_and_start_at(&self, offset: BigInt) -> Result<AsyncTask<ResetTask>> {
        Ok(AsyncTask::new(ResetTask(self.inner.clone(), offset_arg("offset", offset)?)))
    }

    /// The file ranges that answer a fetch at `offset` (see the core's `Log::slice`); with
    /// `max_offset`, only whole batches that end at or below it (`Log::slice_until`).
    #[napi]
    pub fn slice(&self, offset: BigInt, max_bytes: f64, max_offset: Option<BigInt>) -> Result<NativeSlice> {
        let slice = self
            .inner
            .slice_until(offset_arg("offset", offset)?, max_bytes.max(0.0) as u64, max_offset_arg(max_offset)?)
            .map_err(map_error)?;
        let slice = Arc::new(Mutex::new(HeldSlice { slice, released: false }));
        self.issued.track(&slice);
        Ok(NativeSlice { slice })
    }

    /// The same bytes as `slice`, copied into a Buffer.
    #[napi]
    pub fn read(&self, offset: BigInt, max_bytes: f64, max_offset: Option<BigInt>) -> Result<ReadResult> {
        let (data, slice) = self
            .inner
            .read_until(offset_arg("offset", offset)?, max_bytes.max(0.0) as u64, max_offset_arg(max_offset)?)
            .map_err(map_error)?;
        Ok(ReadResult {
            data: data.into(),
            high_watermark: BigInt::from(slice.high_watermark),
            log_start_offset: BigInt::from(slice.log_start_offset),
        })
    }

    /// fsyncs everything appended before the call, on a pool thread; concurrent calls share fsync
    /// rounds. Resolves with the new recovery point.
    #[napi(ts_return_type = "Promise<bigint>")]
    pub fn flush(&self) -> AsyncTask<FlushTask> {
        AsyncTask::new(FlushTask(self.inner.clone()))
    }

    /// Base offset of the first batch whose maxTimestamp >= `timestamp_ms`, or null.
    #[napi]
    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Result<Option<BigInt>> {
        Ok(self.inner.offset_for_timestamp(timestamp_ms).map_err(map_error)?.map(BigInt::from))
    }

    /// The first batch (at or past the log start) whose maxTimestamp is the log's largest, or
    /// null for an empty log.
    #[napi]
    pub fn batch_with_max_timestamp(&self) -> Result<Option<MaxTimestampBatch>> {
        Ok(self
            .inner
            .batch_with_max_timestamp()
            .map_err(map_error)?
            .map(|(base, ts)| MaxTimestampBatch { base_offset: BigInt::from(base), max_timestamp: ts }))
    }

    /// Moves the log start offset forward to `offset` (DeleteRecords), durably (a checkpoint file
    /// is written and fsynced, on a pool thread); resolves with the log start after the call.
    /// OFFSET_OUT_OF_RANGE past the high watermark.
    #[napi(ts_return_type = "Promise<bigint>")]
    pub fn delete_records_before(&self, offset: BigInt) -> Result<AsyncTask<OffsetTask>> {
        Ok(AsyncTask::new(OffsetTask(self.inner.clone(), offset_arg("offset", offset)?, Log::delete_records_before)))
    }

    /// Replaces the settings of the open log (see the core's `Log::reconfigure`): segment size and
    /// age, largest batch and retention apply from the next append, roll or retention pass. An
    /// omitted `leaderEpoch` keeps the log's (it moves by `setLeaderEpoch`).
    #[napi]
    pub fn reconfigure(&self, options: LogOptions) -> Result<()> {
        let mut config = to_config(&options)?;
        if options.leader_epoch.is_none() {
            config.leader_epoch = self.inner.leader_epoch();
        }
        self.inner.reconfigure(config).map_err(map_error)
    }

    /// Deletes whole old segments by retention bytes and age at `now_ms`.
    #[napi]
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionResult> {
        let r = self.inner.enforce_retention(now_ms).map_err(map_error)?;
        Ok(RetentionResult {
            deleted_segments: r.deleted_segments.into_iter().map(BigInt::from).collect(),
            deleted_bytes: r.deleted_bytes as f64,
            log_start_offset: BigInt::from(r.log_start_offset),
        })
    }

    #[napi(getter)]
    pub fn high_watermark(&self) -> BigInt {
        BigInt::from(self.inner.high_watermark())
    }

    #[napi(getter)]
    pub fn log_start_offset(&self) -> BigInt {
        BigInt::from(self.inner.log_start_offset())
    }

    #[napi]
    pub fn stats(&self) -> NativeLogStats {
        let s = self.inner.stats();
        NativeLogStats {
            high_watermark: BigInt::from(s.high_watermark),
            log_start_offset: BigInt::from(s.log_start_offset),
            recovery_point: BigInt::from(s.recovery_point),
            segments: s.segments as u32,
            size_bytes: s.size_bytes as f64,
            fsync_rounds: s.fsync_rounds as f64,
            flush_calls: s.flush_calls as f64,
        }
    }

    /// Base offsets of the segments, oldest first.
    #[napi]
    pub fn segment_base_offsets(&self) -> Vec<BigInt> {
        self.inner.segment_bases().into_iter().map(BigInt::from).collect()
    }

    /// Checks the segments against their bytes and indexes: one line per problem, empty when
    /// consistent (the crash-consistency tests and `npm run torture` run it after recovery).
    #[napi]
    pub fn verify(&self) -> Vec<String> {
        self.inner.verify()
    }

    /// Flushes, seals and marks the log clean, on a pool thread, and lets its segment files go.
    /// Later calls fail with LOG_CLOSED. With `releaseSlices`, the slices it handed out let theirs
    /// go too (a broker that stops, once nothing is left to send: a slice waiting to be sent would
    /// be refused).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self, release_slices: Option<bool>) -> AsyncTask<CloseTask> {
        AsyncTask::new(CloseTask(self.inner.clone(), release_slices.unwrap_or(false).then(|| self.issued.clone())))
    }
}

/// File ranges of whole batches taken by `NativeLog.slice`. Holds the segment files open, so a
/// segment deleted by retention meanwhile stays readable until the slice is dropped, or until its
/// log is closed: then it is emptied (no ranges, no bytes), since a JS object is dropped only when
/// the garbage collector gets to it, and a closed broker must not keep its files open that long.
#[napi]
pub struct NativeSlice {
    pub(crate) slice: Arc<Mutex<HeldSlice>>,
}

pub struct HeldSlice {
    pub(crate) slice: Slice,
    /// Emptied by its log's close: its bytes are no longer there to send.
    pub(crate) released: bool,
}

impl NativeSlice {
    pub(crate) fn get(&self) -> std::sync::MutexGuard<'_, HeldSlice> {
        self.slice.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[napi]
impl NativeSlice {
    #[napi(getter)]
    pub fn ranges(&self) -> Vec<FileRangeInfo> {
        self.get()
            .slice
            .ranges
            .iter()
            .map(|r| FileRangeInfo {
                path: r.path.to_string_lossy().into_owned(),
                segment_base_offset: BigInt::from(r.segment_base_offset),
                position: r.position as f64,
                bytes: r.bytes as f64,
                first_offset: BigInt::from(r.first_offset),
                next_offset: BigInt::from(r.next_offset),
            })
            .collect()
    }

    #[napi(getter)]
    pub fn bytes(&self) -> f64 {
        self.get().slice.bytes() as f64
    }

    /// The offset after the slice's last batch (where the next fetch starts); the offset asked
    /// for when the slice is empty (the log end, unless a `maxOffset` bound left nothing).
    #[napi(getter)]
    pub fn next_offset(&self) -> BigInt {
        BigInt::from(self.get().slice.next_offset())
    }

    #[napi(getter)]
    pub fn high_watermark(&self) -> BigInt {
        BigInt::from(self.get().slice.high_watermark)
    }

    #[napi(getter)]
    pub fn log_start_offset(&self) -> BigInt {
        BigInt::from(self.get().slice.log_start_offset)
    }

    /// Copies the ranges' bytes into a Buffer.
    #[napi]
    pub fn read(&self) -> Result<Buffer> {
        let held = self.get();
        if held.released {
            return Err(coded("LOG_CLOSED", "the slice's log was closed".to_string()));
        }
        Ok(held.slice.read_all().map_err(map_error)?.into())
    }
}

/// An exclusive lock on a data directory (`flock` on `<dir>/.lock`), released by `release()` or
/// when the process exits, however it exits.
#[napi]
pub struct NativeDirLock {
    lock: Option<sluice_log::DirLock>,
}

#[napi]
impl NativeDirLock {
    /// Takes the lock; fails with DATA_DIR_LOCKED when another process holds it.
    #[napi(factory)]
    pub fn acquire(dir: String) -> Result<NativeDirLock> {
        let lock = sluice_log::DirLock::acquire(&PathBuf::from(dir)).map_err(map_error)?;
        Ok(NativeDirLock { lock: Some(lock) })
    }

    #[napi]
    pub fn release(&mut self) {
        self.lock = None;
    }
}
