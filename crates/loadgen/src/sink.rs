//! The benchmark's consumers: one native thread that opens N TCP connections to a server and reads
//! them all with epoll until each reaches end of stream, counting bytes, checking the framing
//! (`[u32 big-endian payload length][payload]`) and, if asked, CRC-32C of the payload bytes. It is
//! native so that the consumers cost little next to the sender being measured, and its CPU time is
//! measured separately (it runs on the same machine, so its work must be subtracted, not ignored).

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use sluice_transfer::sys::{self, Epoll};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkMode {
    /// Count bytes only (the raw baseline's unframed stream).
    Raw,
    /// Check the framing.
    Framed,
    /// Check the framing and CRC-32C the payload bytes.
    FramedCrc,
}

#[derive(Clone, Debug, Default)]
pub struct ConsumerResult {
    pub bytes: u64,
    pub payload_bytes: u64,
    pub frames: u64,
    /// CRC-32C over all payload bytes in order (FramedCrc only).
    pub crc: u32,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct SinkResult {
    pub consumers: Vec<ConsumerResult>,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

pub struct Sink {
    received: Arc<AtomicU64>,
    cpu_ns: Arc<AtomicU64>,
    handle: Option<JoinHandle<io::Result<SinkResult>>>,
}

struct Consumer {
    stream: TcpStream,
    result: ConsumerResult,
    header: [u8; 4],
    header_have: usize,
    payload_left: u64,
    open: bool,
}

impl Consumer {
    fn take(&mut self, mut data: &[u8], mode: SinkMode) {
        self.result.bytes += data.len() as u64;
        if mode == SinkMode::Raw {
            return;
        }
        while !data.is_empty() {
            if self.payload_left == 0 {
                let n = (4 - self.header_have).min(data.len());
                self.header[self.header_have..self.header_have + n].copy_from_slice(&data[..n]);
                self.header_have += n;
                data = &data[n..];
                if self.header_have == 4 {
                    self.payload_left = u32::from_be_bytes(self.header) as u64;
                    self.header_have = 0;
                    self.result.frames += 1;
                }
            } else {
                let n = (self.payload_left as usize).min(data.len());
                if mode == SinkMode::FramedCrc {
                    self.result.crc = crc32c::crc32c_append(self.result.crc, &data[..n]);
                }
                self.result.payload_bytes += n as u64;
                self.payload_left -= n as u64;
                data = &data[n..];
            }
        }
    }

    fn end(&mut self) {
        self.open = false;
        if self.header_have != 0 || self.payload_left != 0 {
            self.result.error = Some(format!(
                "stream ended inside a frame ({} header bytes, {} payload bytes missing)",
                self.header_have, self.payload_left
            ));
        }
    }
}

impl Sink {
    /// Starts the thread, which connects `connections` sockets to `addr` and reads until every one
    /// of them is closed by the server.
    pub fn start(addr: SocketAddr, connections: usize, mode: SinkMode) -> Sink {
        let received = Arc::new(AtomicU64::new(0));
        let cpu_ns = Arc::new(AtomicU64::new(0));
        let (counter, cpu) = (received.clone(), cpu_ns.clone());
        let handle = std::thread::Builder::new()
            .name("sluice-bench-sink".into())
            .spawn(move || run(addr, connections, mode, counter, cpu))
            .expect("spawn sink thread");
        Sink { received, cpu_ns, handle: Some(handle) }
    }

    /// Bytes received so far by all consumers (a counter that outlives `wait`).
    pub fn received(&self) -> Arc<AtomicU64> {
        self.received.clone()
    }

    /// CPU time the sink thread has used so far (updated before each wait).
    pub fn cpu_ns(&self) -> Arc<AtomicU64> {
        self.cpu_ns.clone()
    }

    /// Waits for every stream to end.
    pub fn wait(mut self) -> io::Result<SinkResult> {
        self.handle.take().expect("sink thread").join().map_err(|_| io::Error::other("sink thread panicked"))?
    }
}

fn run(
    addr: SocketAddr,
    connections: usize,
    mode: SinkMode,
    received: Arc<AtomicU64>,
    cpu_ns: Arc<AtomicU64>,
) -> io::Result<SinkResult> {
    let cpu_start = sys::thread_cpu_ns();
    let epoll = Epoll::new()?;
    let mut consumers = Vec::with_capacity(connections);
    for i in 0..connections {
        let stream = TcpStream::connect(addr)?;
        stream.set_nonblocking(true)?;
        epoll.add(stream.as_raw_fd(), (libc::EPOLLIN | libc::EPOLLRDHUP) as u32, i as u64)?;
        consumers.push(Consumer { stream, result: ConsumerResult::default(), header: [0; 4], header_have: 0, payload_left: 0, open: true });
    }
    let start = Instant::now();
    let mut buf = vec![0u8; 1024 * 1024];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; connections.max(1)];
    let mut open = connections;
    while open > 0 {
        cpu_ns.store(sys::thread_cpu_ns() - cpu_start, Relaxed);
        let n = epoll.wait(&mut events, -1)?;
        for ev in &events[..n] {
            let c = &mut consumers[sys::epoll_event_token(ev) as usize];
            if !c.open {
                continue;
            }
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.end();
                    let _ = epoll.delete(c.stream.as_raw_fd());
                    open -= 1;
                }
                Ok(got) => {
                    c.take(&buf[..got], mode);
                    received.fetch_add(got as u64, Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    c.result.error = Some(format!("read failed: {e}"));
                    c.open = false;
                    let _ = epoll.delete(c.stream.as_raw_fd());
                    open -= 1;
                }
            }
        }
    }
    Ok(SinkResult {
        consumers: consumers.into_iter().map(|c| c.result).collect(),
        seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: (sys::thread_cpu_ns() - cpu_start) as f64 / 1e9,
    })
}
