//! Is a file range in the page cache? The sender asks before it starts a job, so that a job whose
//! pages would have to come from disk goes to the warmer thread instead of blocking the sender
//! (and with it every hot consumer) inside sendfile, a page fault or pread.
//!
//! `cachestat(2)` answers without touching the file's pages or mapping it (Linux 6.5+); older
//! kernels fall back to mapping the range and asking `mincore(2)`.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use memmap2::MmapOptions;

use crate::sys;

static NO_CACHESTAT: AtomicBool = AtomicBool::new(false);

/// Pages of `[position, position + len)`, counted as the kernel counts them.
fn pages_spanned(position: u64, len: u64) -> u64 {
    let page = sys::page_size();
    if len == 0 {
        return 0;
    }
    (position + len - 1) / page - position / page + 1
}

/// True when every page of the range is cached. Errors count as "not resident": the warmer then
/// reads the range and reports the real error, if there is one, when the job runs.
pub fn is_resident(file: &File, position: u64, len: u64) -> bool {
    if len == 0 {
        return true;
    }
    let want = pages_spanned(position, len);
    if !NO_CACHESTAT.load(Relaxed) {
        match sys::cached_pages(file, position, len) {
            Some(Ok(cached)) => return cached >= want,
            Some(Err(_)) => return false,
            None => NO_CACHESTAT.store(true, Relaxed),
        }
    }
    // SAFETY: read-only mapping used only for mincore; no byte is read through it.
    let map = match unsafe { MmapOptions::new().offset(position).len(len as usize).map(file) } {
        Ok(map) => map,
        Err(_) => return false,
    };
    // memmap2 aligns the mapping down to a page; mincore wants the aligned start.
    let page = sys::page_size() as usize;
    let addr = map.as_ptr() as usize;
    let aligned = addr - addr % page;
    matches!(sys::resident_pages(aligned as *const u8, len as usize + (addr - aligned)), Ok(n) if n >= want)
}

/// Brings the range into the page cache, blocking until it is there: a populated mapping makes the
/// kernel read every page (with readahead) without copying the data into user space.
pub fn warm(file: &File, position: u64, len: u64) -> std::io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: the mapping is only populated and dropped; no byte is read through it.
    let _map = unsafe { MmapOptions::new().offset(position).len(len as usize).populate().map(file)? };
    Ok(())
}

/// Evicts the range from the page cache where it is clean (tests and benchmarks use it to make
/// cold data on purpose).
pub fn evict(file: &File, position: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let ret = unsafe {
        libc::posix_fadvise(file.as_raw_fd(), position as libc::off_t, len as libc::off_t, libc::POSIX_FADV_DONTNEED)
    };
    if ret != 0 {
        return Err(std::io::Error::from_raw_os_error(ret));
    }
    Ok(())
}
