//! Thin, safe wrappers over the Linux system calls the engine uses (epoll, eventfd, sendfile,
//! send, pread, fd duplication, socket options, page-cache residency, thread CPU clocks). Each
//! returns `io::Result` and retries `EINTR` itself; `WouldBlock` is left to the caller.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Runs a byte-count system call, retrying `EINTR`.
fn retry(mut f: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        let n = f();
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Duplicates `fd` (close-on-exec). The copy refers to the same open socket, so the caller's fd
/// may be closed or reused by the process while the engine still holds its own.
pub fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    let new_fd = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(new_fd) })
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

/// Sets `SO_SNDBUF` (the kernel doubles the value for its bookkeeping and stops autotuning it).
pub fn set_send_buffer(fd: RawFd, bytes: usize) -> io::Result<()> {
    let value = bytes.min(i32::MAX as usize) as libc::c_int;
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// True when `fd` is a stream socket (what the engine can send to).
pub fn is_stream_socket(fd: RawFd) -> io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    check(unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&mut value as *mut libc::c_int).cast(), &mut len)
    })?;
    Ok(value == libc::SOCK_STREAM)
}

/// `send(2)` with `MSG_NOSIGNAL` (a vanished peer is an `EPIPE` error, never a signal), plus
/// `MSG_MORE` when more of the same response follows, so a small header is coalesced with the data.
pub fn send(fd: RawFd, data: &[u8], more: bool) -> io::Result<usize> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    retry(|| unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), flags) })
}

/// `sendfile(2)` from `file` at `position` to the socket: the kernel moves page-cache pages to the
/// socket without a user-space copy. Returns the bytes moved (0 at end of file).
pub fn sendfile(socket: RawFd, file: &File, position: u64, len: usize) -> io::Result<usize> {
    let mut offset = position as libc::off_t;
    retry(|| unsafe { libc::sendfile(socket, file.as_raw_fd(), &mut offset, len) })
}

pub fn pread(file: &File, buf: &mut [u8], position: u64) -> io::Result<usize> {
    retry(|| unsafe { libc::pread(file.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), position as libc::off_t) })
}

pub fn page_size() -> u64 {
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as u64 }
}

/// An epoll instance. Registrations carry a `u64` token.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> io::Result<Self> {
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn add(&self, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Removes `fd`. Must run before the engine closes its duplicate: an epoll registration lives
    /// as long as any fd refers to the socket, and Node still holds its own.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) })?;
        Ok(())
    }

    /// Waits for events; `timeout_ms` -1 blocks. Returns how many of `events` were filled.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        loop {
            let n = unsafe {
                libc::epoll_wait(self.0.as_raw_fd(), events.as_mut_ptr(), events.len() as libc::c_int, timeout_ms)
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

pub fn epoll_event_token(ev: &libc::epoll_event) -> u64 {
    ev.u64
}

/// An eventfd used to wake a thread blocked in `epoll_wait`.
pub struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> io::Result<Self> {
        let fd = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    pub fn notify(&self) {
        let one: u64 = 1;
        // Cannot fail short of a counter overflow after 2^64 - 1 unread wakeups.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    pub fn reset(&self) {
        let mut value: u64 = 0;
        unsafe { libc::read(self.0.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
    }
}

/// CPU time consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// `cachestat(2)` (Linux 6.5+, the same number on every architecture): how many pages of the
/// range are in the page cache, without mapping the file. `None` where the kernel lacks it.
pub fn cached_pages(file: &File, position: u64, len: u64) -> Option<io::Result<u64>> {
    const SYS_CACHESTAT: libc::c_long = 451;
    let range = CachestatRange { off: position, len };
    let mut stat = Cachestat::default();
    let ret = unsafe {
        libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range as *const CachestatRange, &mut stat as *mut Cachestat, 0u32)
    };
    if ret == 0 {
        return Some(Ok(stat.nr_cache));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EPERM) => None,
        _ => Some(Err(err)),
    }
}

/// `mincore(2)` over a mapping: how many of its pages are resident.
pub fn resident_pages(addr: *const u8, len: usize) -> io::Result<u64> {
    let page = page_size() as usize;
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    check(unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) })?;
    Ok(vec.iter().filter(|b| **b & 1 == 1).count() as u64)
}
