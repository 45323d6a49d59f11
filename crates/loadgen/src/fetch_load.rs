//! The broker benchmark's consumers: one native thread drives N connections that each read a
//! partition from `start_offset` to `end_offset` with fetch requests, as cheaply as possible, so
//! that what the benchmark measures is the broker.
//!
//! It knows as little protocol as it can: the caller hands it a request frame (a template) and the
//! byte positions of a big-endian u32 correlation id and a big-endian i64 offset inside it, which
//! it patches per request. A Sluice response is `u32 frameBytes | u32 metaBytes | meta | data`; a
//! Kafka one (`response_head_bytes` > 0: a one-partition Fetch response, whose head before the
//! records has a size known from the topic name) is `i32 size | correlation id | head | data`, or
//! from v12 (`response_tail_bytes`) `... | head | varint size + 1 | data | tag buffers`. The
//! head is skipped, the data is walked as RecordBatch v2 headers (base offset, length, last offset delta)
//! to find where the next fetch starts, and, for consumers asked to verify, every batch's CRC-32C
//! is checked. Kafka's broker cuts its responses at maxBytes, inside a batch; as its consumers do,
//! a partial batch at the end of a Kafka response is dropped and fetched again (Sluice's responses
//! end on batch boundaries, so one there is an error). Only whole batches count as data. One fetch is in flight per connection, as in Kafka's consumers (the next fetch
//! starts where this response ends, which is known only once it arrives). The time from sending a
//! request to the last byte of its response is recorded per fetch.
//!
//! With `end_offset` at `i64::MAX` the consumers follow the tail of the log (long-polling with the
//! template's maxWaitMs) until `stop()`: the fan-out load of the end-to-end latency benchmark.
//!
//! With `subscribe` set, the template is a Sluice Subscribe request instead, sent once: the broker
//! then pushes frames (the Subscribe response first, then pushes whose data is whole batches) and
//! the consumer grants credit back with the Credit template (its u32 byte count patched) each time
//! it has read half its window, as the TypeScript Subscription does. A frame whose meta holds an
//! `error` key (a refused Subscribe, or a push that ends the subscription) fails the consumer.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use sluice_transfer::sys::{self, Epoll};

const BATCH_HEADER_BYTES: usize = 61;

#[derive(Clone, Debug)]
pub struct FetchLoadConfig {
    pub addr: SocketAddr,
    pub connections: usize,
    /// A whole fetch request frame.
    pub template: Vec<u8>,
    /// Position of the correlation id (u32 BE) in the template.
    pub correlation_at: usize,
    /// Position of the fetch offset (i64 BE) in the template.
    pub offset_at: usize,
    pub start_offset: i64,
    /// Each consumer stops once it has everything below this offset.
    pub end_offset: i64,
    /// The first `verify` consumers check every batch's CRC-32C.
    pub verify: usize,
    /// 0: Sluice's framing. Otherwise Kafka's: the bytes of each response before its records
    /// (size field included), the same for every response of a one-partition fetch.
    pub response_head_bytes: usize,
    /// Kafka's flexible Fetch (v12+): the records' size is an unsigned varint (size + 1) after
    /// the head, and this many bytes (the tag buffers of the partition, the topic and the body)
    /// follow the records. None: a fixed int32 size ends the head and nothing follows the records.
    pub response_tail_bytes: Option<usize>,
    /// Push subscriptions instead of fetches (Sluice's framing only).
    pub subscribe: Option<SubscribeConfig>,
}

#[derive(Clone, Debug)]
pub struct SubscribeConfig {
    /// A whole Credit request frame.
    pub credit_template: Vec<u8>,
    /// Position of the credited byte count (u32 BE) in it.
    pub credit_bytes_at: usize,
    /// The window the Subscribe template asked for; credit goes back every half window.
    pub window_bytes: u64,
}

/// The MessagePack encoding of the string key "error" (fixstr of 5).
const ERROR_KEY: &[u8] = b"\xa5error";
/// Meta bytes kept per frame to look for ERROR_KEY and report it (subscribe mode).
const META_KEPT_BYTES: usize = 512;

#[derive(Clone, Debug, Default)]
pub struct FetchConsumerResult {
    /// Every byte received.
    pub bytes: u64,
    /// The bytes of whole record batches received (what a consumer can use).
    pub data_bytes: u64,
    pub fetches: u64,
    pub batches: u64,
    pub next_offset: i64,
    pub crc_checked: u64,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct FetchLoadResult {
    pub consumers: Vec<FetchConsumerResult>,
    /// Microseconds from request sent to response complete, every fetch of every consumer.
    pub latencies_us: Vec<u32>,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

pub struct FetchLoad {
    received: Arc<AtomicU64>,
    cpu_ns: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<io::Result<FetchLoadResult>>>,
}

impl FetchLoad {
    pub fn start(config: FetchLoadConfig) -> io::Result<FetchLoad> {
        if config.correlation_at + 4 > config.template.len() || config.offset_at + 8 > config.template.len() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "patch positions lie outside the template"));
        }
        let received = Arc::new(AtomicU64::new(0));
        let cpu_ns = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, cpu, stopping) = (received.clone(), cpu_ns.clone(), stop.clone());
        let handle = std::thread::Builder::new().name("sluice-bench-fetch".into()).spawn(move || run(config, counter, cpu, stopping))?;
        Ok(FetchLoad { received, cpu_ns, stop, handle: Some(handle) })
    }

    pub fn received(&self) -> Arc<AtomicU64> {
        self.received.clone()
    }

    pub fn cpu_ns(&self) -> Arc<AtomicU64> {
        self.cpu_ns.clone()
    }

    /// A flag that, once set, ends the run at the thread's next wake-up (at most `STOP_POLL_MS`
    /// later); fetches in flight are abandoned.
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    pub fn wait(mut self) -> io::Result<FetchLoadResult> {
        self.handle.take().expect("fetch thread").join().map_err(|_| io::Error::other("fetch thread panicked"))?
    }
}

/// Where a consumer is in the response it is reading.
enum Part {
    Prefix { have: usize },
    Meta { left: u64 },
    /// Kafka flexible: the compact records size, an unsigned varint read `shift` bits so far.
    Size { value: u64, shift: u32 },
    /// Inside the data: `left` bytes of it remain (the batch being walked is in `header`,
    /// `header_have` and `batch_left`).
    Data { left: u64 },
    /// Kafka flexible: tag buffers after the records, `left` bytes of them.
    Tail { left: u64 },
}

struct Consumer {
    stream: TcpStream,
    result: FetchConsumerResult,
    verify: bool,
    /// See FetchLoadConfig::response_head_bytes.
    head_bytes: u64,
    /// See FetchLoadConfig::response_tail_bytes.
    tail_bytes: Option<u64>,
    part: Part,
    prefix: [u8; 8],
    header: [u8; BATCH_HEADER_BYTES],
    header_have: usize,
    batch_left: u64,
    /// The batch being walked: its size, and the offset after it.
    batch_bytes: u64,
    batch_next_offset: i64,
    crc: u32,
    expected_crc: u32,
    sent_at: Instant,
    correlation: u32,
    done: bool,
    /// Subscribe mode: the current frame's meta (its first META_KEPT_BYTES), and the data bytes credited back so far.
    meta: Vec<u8>,
    credited: u64,
}

impl Consumer {
    /// Consumes response bytes; returns true when a whole response has been read.
    fn take(&mut self, mut data: &[u8]) -> Result<bool, String> {
        self.result.bytes += data.len() as u64;
        let mut complete = false;
        while !data.is_empty() {
            match self.part {
                Part::Prefix { have } => {
                    let n = (8 - have).min(data.len());
                    self.prefix[have..have + n].copy_from_slice(&data[..n]);
                    data = &data[n..];
                    if have + n < 8 {
                        self.part = Part::Prefix { have: have + n };
                        continue;
                    }
                    let frame = u32::from_be_bytes(self.prefix[0..4].try_into().unwrap()) as u64;
                    // Kafka: the head after the 8 bytes read is skipped like a meta.
                    let meta = if self.head_bytes > 0 { self.head_bytes.saturating_sub(8) } else { u32::from_be_bytes(self.prefix[4..8].try_into().unwrap()) as u64 };
                    if (self.head_bytes == 0 && meta < 1) || meta + 4 + self.tail_bytes.map_or(0, |t| t + 1) > frame {
                        return Err(format!("bad response framing: frameBytes {frame}, metaBytes {meta}"));
                    }
                    self.part = Part::Meta { left: meta };
                    self.meta.clear();
                    self.header_have = 0;
                    self.batch_left = 0;
                    // The data length is known now; remember it in the Data state after the meta.
                    self.prefix[0..4].copy_from_slice(&((frame - 4 - meta) as u32).to_be_bytes());
                }
                Part::Meta { left } => {
                    let n = (left as usize).min(data.len());
                    if self.meta.capacity() > 0 {
                        let keep = n.min(META_KEPT_BYTES - self.meta.len().min(META_KEPT_BYTES));
                        self.meta.extend_from_slice(&data[..keep]);
                    }
                    data = &data[n..];
                    let left = left - n as u64;
                    if left > 0 {
                        self.part = Part::Meta { left };
                    } else if self.tail_bytes.is_some() {
                        self.part = Part::Size { value: 0, shift: 0 };
                    } else {
                        let data_left = u32::from_be_bytes(self.prefix[0..4].try_into().unwrap()) as u64;
                        self.part = Part::Data { left: data_left };
                        if data_left == 0 {
                            complete = true;
                            self.part = Part::Prefix { have: 0 };
                        }
                    }
                }
                Part::Size { value, shift } => {
                    let b = data[0];
                    data = &data[1..];
                    let value = value | (u64::from(b & 0x7f) << shift);
                    if b & 0x80 != 0 {
                        if shift >= 28 {
                            return Err("records size is a varint longer than 5 bytes".into());
                        }
                        self.part = Part::Size { value, shift: shift + 7 };
                        continue;
                    }
                    // Compact: size + 1, 0 for null (never sent: no records is an empty value).
                    let Some(records) = value.checked_sub(1) else { return Err("null records in a fetch response".into()) };
                    self.part = Part::Data { left: records };
                    if records == 0 {
                        complete |= self.records_done();
                    }
                }
                Part::Tail { left } => {
                    let n = (left as usize).min(data.len());
                    data = &data[n..];
                    let left = left - n as u64;
                    self.part = Part::Tail { left };
                    if left == 0 {
                        complete = true;
                        self.part = Part::Prefix { have: 0 };
                    }
                }
                Part::Data { left } => {
                    let n = (left as usize).min(data.len());
                    self.walk(&data[..n])?;
                    data = &data[n..];
                    let left = left - n as u64;
                    if left > 0 {
                        self.part = Part::Data { left };
                    } else {
                        if self.header_have != 0 || self.batch_left != 0 {
                            if self.head_bytes == 0 {
                                return Err("response data ends inside a batch".into());
                            }
                            // Kafka's cut at maxBytes: the next fetch starts at this batch.
                            self.header_have = 0;
                            self.batch_left = 0;
                        }
                        complete |= self.records_done();
                    }
                }
            }
        }
        Ok(complete)
    }

    /// After a response's records: its tag buffers (Kafka flexible), or else the next response;
    /// true when the response is complete.
    fn records_done(&mut self) -> bool {
        match self.tail_bytes {
            Some(tail) if tail > 0 => {
                self.part = Part::Tail { left: tail };
                false
            }
            _ => {
                self.part = Part::Prefix { have: 0 };
                true
            }
        }
    }

    /// Walks record batches: headers are read (and CRC'd from byte 21), bodies skipped or CRC'd.
    fn walk(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            if self.batch_left == 0 {
                let n = (BATCH_HEADER_BYTES - self.header_have).min(data.len());
                self.header[self.header_have..self.header_have + n].copy_from_slice(&data[..n]);
                self.header_have += n;
                data = &data[n..];
                if self.header_have < BATCH_HEADER_BYTES {
                    continue;
                }
                let h = &self.header;
                let base = i64::from_be_bytes(h[0..8].try_into().unwrap());
                let length = i32::from_be_bytes(h[8..12].try_into().unwrap());
                let last_delta = i32::from_be_bytes(h[23..27].try_into().unwrap());
                if h[16] != 2 || length < 49 {
                    return Err(format!("not a RecordBatch v2 at offset {base}: magic {}, length {length}", h[16]));
                }
                self.batch_next_offset = base + last_delta as i64 + 1;
                self.batch_bytes = length as u64 + 12;
                self.header_have = 0;
                self.batch_left = self.batch_bytes - BATCH_HEADER_BYTES as u64;
                if self.verify {
                    self.expected_crc = u32::from_be_bytes(h[17..21].try_into().unwrap());
                    self.crc = crc32c::crc32c(&h[21..BATCH_HEADER_BYTES]);
                }
                if self.batch_left == 0 {
                    self.finish_batch()?;
                }
            } else {
                let n = (self.batch_left as usize).min(data.len());
                if self.verify {
                    self.crc = crc32c::crc32c_append(self.crc, &data[..n]);
                }
                self.batch_left -= n as u64;
                data = &data[n..];
                if self.batch_left == 0 {
                    self.finish_batch()?;
                }
            }
        }
        Ok(())
    }

    /// A whole batch has been read: it counts, and the next fetch starts after it.
    fn finish_batch(&mut self) -> Result<(), String> {
        if self.verify {
            if self.crc != self.expected_crc {
                return Err(format!("CRC mismatch in the batch ending before offset {}", self.batch_next_offset));
            }
            self.result.crc_checked += 1;
        }
        self.result.batches += 1;
        self.result.data_bytes += self.batch_bytes;
        self.result.next_offset = self.batch_next_offset;
        Ok(())
    }

    /// Subscribe mode, after a whole frame: fails on an error meta, grants credit every half window.
    fn after_push(&mut self, sub: &SubscribeConfig, credit: &mut [u8]) -> Result<(), String> {
        if self.meta.windows(ERROR_KEY.len()).any(|w| w == ERROR_KEY) {
            return Err(format!("the broker refused or ended the subscription: {}", String::from_utf8_lossy(&self.meta)));
        }
        self.result.fetches += 1;
        let taken = self.result.data_bytes - self.credited;
        if taken * 2 >= sub.window_bytes {
            let at = sub.credit_bytes_at;
            credit[at..at + 4].copy_from_slice(&(taken.min(u32::MAX as u64) as u32).to_be_bytes());
            self.credited = self.result.data_bytes;
            self.write_blocking(credit).map_err(|e| format!("write failed: {e}"))?;
        }
        Ok(())
    }

    /// A small request on a socket that is only ever read from between requests: the kernel
    /// takes it whole; block briefly in the rare case it does not.
    fn write_blocking(&mut self, frame: &[u8]) -> io::Result<()> {
        self.stream.set_nonblocking(false)?;
        let r = self.stream.write_all(frame);
        self.stream.set_nonblocking(true)?;
        r
    }

    fn send_fetch(&mut self, template: &mut [u8], config: &FetchLoadConfig) -> io::Result<()> {
        self.correlation = self.correlation.wrapping_add(1) & 0x7fff_ffff;
        template[config.correlation_at..config.correlation_at + 4].copy_from_slice(&self.correlation.to_be_bytes());
        template[config.offset_at..config.offset_at + 8].copy_from_slice(&self.result.next_offset.to_be_bytes());
        self.sent_at = Instant::now();
        if config.subscribe.is_none() {
            self.result.fetches += 1;
        }
        self.write_blocking(template)
    }
}

/// How often a waiting consumer thread looks at the stop flag.
const STOP_POLL_MS: i32 = 50;

fn run(config: FetchLoadConfig, received: Arc<AtomicU64>, cpu_ns: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> io::Result<FetchLoadResult> {
    let cpu_start = sys::thread_cpu_ns();
    let epoll = Epoll::new()?;
    let mut template = config.template.clone();
    let mut credit = config.subscribe.as_ref().map(|s| s.credit_template.clone()).unwrap_or_default();
    let mut consumers = Vec::with_capacity(config.connections);
    for i in 0..config.connections {
        let stream = TcpStream::connect(config.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        epoll.add(stream.as_raw_fd(), libc::EPOLLIN as u32, i as u64)?;
        consumers.push(Consumer {
            stream,
            result: FetchConsumerResult { next_offset: config.start_offset, ..Default::default() },
            verify: i < config.verify,
            head_bytes: config.response_head_bytes as u64,
            tail_bytes: config.response_tail_bytes.map(|t| t as u64),
            part: Part::Prefix { have: 0 },
            prefix: [0; 8],
            header: [0; BATCH_HEADER_BYTES],
            header_have: 0,
            batch_left: 0,
            batch_bytes: 0,
            batch_next_offset: 0,
            crc: 0,
            expected_crc: 0,
            sent_at: Instant::now(),
            correlation: 0,
            done: false,
            meta: if config.subscribe.is_some() { Vec::with_capacity(META_KEPT_BYTES) } else { Vec::new() },
            credited: 0,
        });
    }
    let start = Instant::now();
    let mut open = 0;
    for c in consumers.iter_mut() {
        if c.result.next_offset >= config.end_offset {
            c.done = true;
        } else {
            c.send_fetch(&mut template, &config)?;
            open += 1;
        }
    }
    let mut latencies_us = Vec::new();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; config.connections.max(1)];
    while open > 0 && !stop.load(Relaxed) {
        cpu_ns.store(sys::thread_cpu_ns() - cpu_start, Relaxed);
        let n = epoll.wait(&mut events, STOP_POLL_MS)?;
        for ev in &events[..n] {
            let c = &mut consumers[sys::epoll_event_token(ev) as usize];
            if c.done {
                continue;
            }
            let outcome = match c.stream.read(&mut buf) {
                Ok(0) => Err("the broker closed the connection".to_string()),
                Ok(got) => {
                    received.fetch_add(got as u64, Relaxed);
                    c.take(&buf[..got])
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => Ok(false),
                Err(e) => Err(format!("read failed: {e}")),
            };
            match outcome {
                Ok(false) => {}
                Ok(true) => {
                    if let Some(sub) = &config.subscribe {
                        // Pushes keep coming (several may be in this read): credit as they are taken.
                        if let Err(e) = c.after_push(sub, &mut credit) {
                            c.result.error = Some(e);
                            c.done = true;
                        } else if c.result.next_offset >= config.end_offset {
                            c.done = true;
                        }
                    } else {
                        latencies_us.push(c.sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if c.result.next_offset >= config.end_offset {
                            c.done = true;
                        } else if let Err(e) = c.send_fetch(&mut template, &config) {
                            c.result.error = Some(format!("write failed: {e}"));
                            c.done = true;
                        }
                    }
                }
                Err(e) => {
                    c.result.error = Some(e);
                    c.done = true;
                }
            }
            if c.done {
                let _ = epoll.delete(c.stream.as_raw_fd());
                open -= 1;
            }
        }
    }
    Ok(FetchLoadResult {
        consumers: consumers.into_iter().map(|c| c.result).collect(),
        latencies_us,
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: (sys::thread_cpu_ns() - cpu_start) as f64 / 1e9,
    })
}
