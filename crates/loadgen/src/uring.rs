//! An experiment (issue 16): io_uring as the fan-out path, in the raw loop's shape, to learn what
//! it gives before wiring it into the sender. io_uring has no sendfile; the zero-copy route from a
//! file to a socket is a splice from the file into a pipe linked (IOSQE_IO_LINK) to a splice from
//! the pipe into the socket, one chain per socket in flight, completions reaped in batches.
//!
//! The kernel runs splice requests on its io-wq worker threads (they cannot be issued without
//! blocking), so their CPU is not this thread's: callers measure the process. A socket that cannot
//! take the pipe's bytes gets a poll request and the rest of the pipe when it drains. Sockets must
//! be non-blocking stream sockets (they are duplicated, as the raw loop does).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use io_uring::{opcode, squeue, types, IoUring};

use crate::raw::{sender_socket, RawFanout};
use sluice_transfer::sys;

#[derive(Clone, Copy, Debug, Default)]
pub struct UringResult {
    /// Bytes that reached the sockets, all together.
    pub bytes: u64,
    pub seconds: f64,
    /// CPU time of the thread that submitted and reaped (io-wq workers not included).
    pub cpu_seconds: f64,
    /// Submission-queue entries submitted (splices and polls).
    pub submissions: u64,
    /// `io_uring_enter` calls.
    pub enters: u64,
}

/// What a completion is for: the low two bits of its user data (the socket's index above them).
const FILE_TO_PIPE: u64 = 0;
const PIPE_TO_SOCKET: u64 = 1;
const POLL: u64 = 2;

struct Stream {
    socket: OwnedFd,
    pipe_read: OwnedFd,
    pipe_write: OwnedFd,
    /// Where the next file → pipe splice starts.
    file_position: u64,
    /// Bytes in the pipe, not yet in the socket.
    in_pipe: u64,
    /// Requests in flight for this socket (a chain counts its two).
    in_flight: u32,
}

/// The splice loop over `run` (see RawFanout), up to `chunk_bytes` per chain (capped at the pipe's
/// size, 1 MiB). Blocks the calling thread.
pub fn splice_fanout(run: &RawFanout) -> io::Result<UringResult> {
    let RawFanout { file, file_len, fds, chunk_bytes, send_buffer_bytes, duration } = *run;
    if file_len == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut streams = Vec::with_capacity(fds.len());
    let mut chunk = chunk_bytes.max(1) as u64;
    for fd in fds {
        let socket = sender_socket(*fd, send_buffer_bytes)?;
        let (pipe_read, pipe_write) = pipe()?;
        // A pipe holds at most its size: a chain moves no more than that.
        // SAFETY: fcntl on a pipe fd this function owns.
        let size = unsafe { libc::fcntl(pipe_write.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        if size > 0 {
            chunk = chunk.min(size as u64);
        }
        streams.push(Stream { socket, pipe_read, pipe_write, file_position: 0, in_pipe: 0, in_flight: 0 });
    }
    let entries = (2 * streams.len()).next_power_of_two().clamp(8, 4096) as u32;
    let mut ring = IoUring::new(entries)?;
    let cpu_start = sys::thread_cpu_ns();
    let start = Instant::now();
    let mut result = UringResult::default();
    let file_fd = types::Fd(file.as_raw_fd());
    let mut ready: Vec<usize> = (0..streams.len()).collect();
    let mut in_flight = 0u64;
    loop {
        let stopping = start.elapsed() >= duration;
        if !stopping {
            // Queue the next request of every socket that has none in flight.
            for &i in &ready {
                let s = &mut streams[i];
                let mut sq = ring.submission();
                let token = (i as u64) << 2;
                if s.in_pipe == 0 {
                    let len = chunk.min(file_len - s.file_position) as u32;
                    let fill = opcode::Splice::new(file_fd, s.file_position as i64, types::Fd(s.pipe_write.as_raw_fd()), -1, len)
                        .build()
                        .flags(squeue::Flags::IO_LINK)
                        .user_data(token | FILE_TO_PIPE);
                    let drain = opcode::Splice::new(types::Fd(s.pipe_read.as_raw_fd()), -1, types::Fd(s.socket.as_raw_fd()), -1, len)
                        .build()
                        .user_data(token | PIPE_TO_SOCKET);
                    // SAFETY: every fd in the entries outlives the ring's use of it (streams live until the end).
                    unsafe { sq.push_multiple(&[fill, drain]).map_err(|_| io::Error::other("submission queue full"))? };
                    s.in_flight += 2;
                    in_flight += 2;
                } else {
                    let drain = opcode::Splice::new(types::Fd(s.pipe_read.as_raw_fd()), -1, types::Fd(s.socket.as_raw_fd()), -1, s.in_pipe as u32)
                        .build()
                        .user_data(token | PIPE_TO_SOCKET);
                    // SAFETY: as above.
                    unsafe { sq.push(&drain).map_err(|_| io::Error::other("submission queue full"))? };
                    s.in_flight += 1;
                    in_flight += 1;
                }
                result.submissions += 1;
            }
            ready.clear();
        }
        if in_flight == 0 {
            break;
        }
        ring.submit_and_wait(1)?;
        result.enters += 1;
        let completions: Vec<(u64, i32)> = ring.completion().map(|c| (c.user_data(), c.result())).collect();
        for (data, res) in completions {
            let i = (data >> 2) as usize;
            let s = &mut streams[i];
            s.in_flight -= 1;
            in_flight -= 1;
            match data & 3 {
                FILE_TO_PIPE => {
                    if res < 0 {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                    if res == 0 {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    s.in_pipe += res as u64;
                    s.file_position += res as u64;
                    if s.file_position >= file_len {
                        s.file_position = 0;
                    }
                }
                PIPE_TO_SOCKET => {
                    if res == -libc::ECANCELED {
                        // The linked fill moved less than asked (the chain broke): drain what it moved.
                    } else if res == -libc::EAGAIN {
                        let poll = opcode::PollAdd::new(types::Fd(s.socket.as_raw_fd()), libc::POLLOUT as u32).build().user_data(((i as u64) << 2) | POLL);
                        // SAFETY: as above.
                        unsafe { ring.submission().push(&poll).map_err(|_| io::Error::other("submission queue full"))? };
                        s.in_flight += 1;
                        in_flight += 1;
                        result.submissions += 1;
                        continue;
                    } else if res < 0 {
                        return Err(io::Error::from_raw_os_error(-res));
                    } else {
                        s.in_pipe -= res as u64;
                        result.bytes += res as u64;
                    }
                }
                _ => {
                    if res < 0 && res != -libc::EINTR {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                }
            }
            if s.in_flight == 0 {
                ready.push(i);
            }
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    result.cpu_seconds = (sys::thread_cpu_ns() - cpu_start) as f64 / 1e9;
    Ok(result)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds are new and owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
