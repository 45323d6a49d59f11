//! Reading the batch headers of a segment's log file without reading the records.
//!
//! `HeaderScanner` walks batch boundaries from a known batch start by positional reads of a small
//! window, so finding where a fetch starts or ends costs a few `pread`s however big the batches are.
//! It is used on bytes the log has already validated; a header that makes no sense there means the
//! file was damaged underneath us and is reported as a storage error.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::batch::{BatchHeader, HEADER_BYTES};
use crate::error::{LogError, Result};

/// Bytes read per window: enough for the headers of many small batches at once. After a batch
/// larger than the window, the scanner reads just one header: the next one is far away, and copying
/// (and zeroing) a window of record bytes per header would cost more than the lookup itself.
const WINDOW_BYTES: usize = 4 * 1024;
/// The first read of a scan, before any batch size is known: a fetch's slice starts with one or two
/// header reads, and for the large batches of a busy topic a 4 KiB first window was most of a
/// slice's cost (the copy, measured with `perf` under slice-heavy fan-out). Small batches grow the
/// window to WINDOW_BYTES from the second read on.
const FIRST_WINDOW_BYTES: usize = 512;

pub struct HeaderScanner<'a> {
    file: &'a File,
    /// Position of the next batch.
    position: u64,
    /// End of the readable region (the segment's published size).
    end: u64,
    window: Vec<u8>,
    window_start: u64,
    /// Size of the last batch moved past.
    last_batch_bytes: u64,
}

impl<'a> HeaderScanner<'a> {
    /// Scans batches starting at `position` (a batch boundary) up to `end`.
    pub fn new(file: &'a File, position: u64, end: u64) -> Self {
        HeaderScanner { file, position, end, window: Vec::new(), window_start: 0, last_batch_bytes: 0 }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// The header of the batch at the current position without moving past it; None at the end.
    pub fn peek(&mut self) -> Result<Option<BatchHeader>> {
        if self.position >= self.end {
            return Ok(None);
        }
        let header = self.read_header()?;
        if header.size_bytes < HEADER_BYTES || self.position + header.size_bytes as u64 > self.end {
            return Err(LogError::storage(
                format!("damaged segment: bad batch header at position {}", self.position),
                io::Error::from(io::ErrorKind::InvalidData),
            ));
        }
        Ok(Some(header))
    }

    /// Moves past the batch at the current position.
    pub fn advance(&mut self, header: &BatchHeader) {
        self.position += header.size_bytes as u64;
        self.last_batch_bytes = header.size_bytes as u64;
    }

    /// The next batch as (position, header); None at the end.
    pub fn next_batch(&mut self) -> Result<Option<(u64, BatchHeader)>> {
        let position = self.position;
        let header = self.peek()?;
        if let Some(h) = &header {
            self.advance(h);
        }
        Ok(header.map(|h| (position, h)))
    }

    fn read_header(&mut self) -> Result<BatchHeader> {
        let in_window = self.position >= self.window_start
            && self.position + HEADER_BYTES as u64 <= self.window_start + self.window.len() as u64;
        if !in_window {
            let window = match self.last_batch_bytes {
                0 => FIRST_WINDOW_BYTES,
                n if n > WINDOW_BYTES as u64 => HEADER_BYTES,
                _ => WINDOW_BYTES,
            };
            let want = (window as u64).min(self.end - self.position).max(HEADER_BYTES as u64) as usize;
            if self.window.len() < want {
                self.window.resize(want, 0);
            }
            self.window.truncate(want);
            let got = read_fully_at(self.file, &mut self.window, self.position)
                .map_err(|e| LogError::storage(format!("read at position {}", self.position), e))?;
            self.window.truncate(got);
            self.window_start = self.position;
            if got < HEADER_BYTES {
                return Err(LogError::storage(
                    format!("damaged segment: short batch header at position {}", self.position),
                    io::Error::from(io::ErrorKind::UnexpectedEof),
                ));
            }
        }
        let at = (self.position - self.window_start) as usize;
        Ok(BatchHeader::parse(&self.window[at..]).expect("window holds a whole header"))
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub fn read_fully_at(file: &File, buf: &mut [u8], position: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], position + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
