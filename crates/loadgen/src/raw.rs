//! The raw baseline of the fan-out benchmark: the physical limit of this machine for moving one
//! file to N sockets. A plain loop sendfiles the file to every socket over and over (no framing, no
//! jobs, no JS), parking full sockets on epoll, until the time is up. The fetch paths are measured
//! against it with the same call size and send buffer.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use sluice_transfer::sys::{self, Epoll};

#[derive(Clone, Copy, Debug, Default)]
pub struct RawResult {
    /// Bytes moved by sendfile, to all sockets together.
    pub bytes: u64,
    pub seconds: f64,
    /// CPU time of the thread that ran the loop.
    pub cpu_seconds: f64,
    pub sendfile_calls: u64,
}

/// What a raw loop moves: `[0, file_len)` of `file` to each socket in `fds`, over and over, for
/// `duration`, with at most `chunk_bytes` per call and, if given, `SO_SNDBUF` set on every socket.
/// The sockets are duplicated; the caller closes its own fds to end the consumers' streams.
pub struct RawFanout<'a> {
    pub file: &'a File,
    pub file_len: u64,
    pub fds: &'a [RawFd],
    pub chunk_bytes: usize,
    pub send_buffer_bytes: Option<usize>,
    pub duration: Duration,
}

/// A duplicate of socket `fd` to send on from a loop of our own: non-blocking, with `SO_SNDBUF`
/// set when given (the duplicate shares the socket, so the caller's fd sees both too).
pub(crate) fn sender_socket(fd: RawFd, send_buffer_bytes: Option<usize>) -> std::io::Result<OwnedFd> {
    let dup = sys::dup(fd)?;
    sys::set_nonblocking(dup.as_raw_fd())?;
    if let Some(bytes) = send_buffer_bytes {
        sys::set_send_buffer(dup.as_raw_fd(), bytes)?;
    }
    Ok(dup)
}

/// The sendfile loop over `run` (see RawFanout). Blocks the calling thread.
pub fn sendfile_fanout(run: &RawFanout) -> std::io::Result<RawResult> {
    let RawFanout { file, file_len, fds, chunk_bytes, send_buffer_bytes, duration } = *run;
    let epoll = Epoll::new()?;
    let mut socks: Vec<(OwnedFd, u64, bool)> = Vec::with_capacity(fds.len());
    for (i, fd) in fds.iter().enumerate() {
        let dup = sender_socket(*fd, send_buffer_bytes)?;
        epoll.add(dup.as_raw_fd(), (libc::EPOLLOUT | libc::EPOLLET) as u32, i as u64)?;
        socks.push((dup, 0, true));
    }
    let cpu_start = sys::thread_cpu_ns();
    let start = Instant::now();
    let mut result = RawResult::default();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; fds.len().max(1)];
    let mut writable = socks.len();
    while start.elapsed() < duration {
        // Pick up sockets that drained; block (briefly, to re-check the clock) only when none can take more.
        let n = epoll.wait(&mut events, if writable == 0 { 100 } else { 0 })?;
        for ev in &events[..n] {
            let s = &mut socks[sys::epoll_event_token(ev) as usize];
            if !s.2 {
                s.2 = true;
                writable += 1;
            }
        }
        for s in socks.iter_mut().filter(|s| s.2) {
            // Up to 1 MiB per socket per round (the engine's turn budget) keeps sockets evenly served.
            let mut turn = 0u64;
            while turn < 1024 * 1024 {
                let want = (file_len - s.1).min(chunk_bytes as u64) as usize;
                match sys::sendfile(s.0.as_raw_fd(), file, s.1, want) {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        result.sendfile_calls += 1;
                        result.bytes += n as u64;
                        turn += n as u64;
                        s.1 = if s.1 + n as u64 >= file_len { 0 } else { s.1 + n as u64 };
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        s.2 = false;
                        writable -= 1;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    result.cpu_seconds = (sys::thread_cpu_ns() - cpu_start) as f64 / 1e9;
    for s in &socks {
        let _ = epoll.delete(s.0.as_raw_fd());
    }
    Ok(result)
}
