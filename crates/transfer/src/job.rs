//! A transfer job: one response for one connection, as an ordered list of pieces (bytes such as a
//! response header or per-partition framing, and segment file ranges), and the code that writes it
//! to a non-blocking socket along one fetch path. A job keeps its place between calls, so a full
//! socket (`EAGAIN`) just ends the call; the sender resumes the job on EPOLLOUT.

use std::fs::File;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::counters::Counters;
use crate::error::TransferError;
use crate::mapping::MappingCache;
use crate::sys;

/// How file ranges reach the socket. All paths put identical bytes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchPath {
    /// `sendfile(2)`: page cache to socket, no user-space copy.
    Sendfile,
    /// `send(2)` from a shared mapping of the segment: the kernel copies from the mapped pages.
    Mmap,
    /// `pread(2)` into a buffer, then `send(2)`: one extra copy through user space.
    Copy,
}

impl FetchPath {
    pub fn parse(name: &str) -> Option<FetchPath> {
        match name {
            "sendfile" => Some(FetchPath::Sendfile),
            "mmap" => Some(FetchPath::Mmap),
            "copy" => Some(FetchPath::Copy),
            _ => None,
        }
    }
}

/// A byte range of a segment file. The `Arc` keeps the file open while the job needs it, even if
/// retention deletes the segment meanwhile.
#[derive(Clone, Debug)]
pub struct FilePiece {
    pub file: Arc<File>,
    pub position: u64,
    pub len: u64,
}

#[derive(Clone, Debug)]
pub enum Piece {
    Bytes(Vec<u8>),
    File(FilePiece),
}

impl Piece {
    pub fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::File(f) => f.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Settings and per-thread state a job writes with.
pub struct SendContext<'a> {
    pub sendfile_chunk_bytes: usize,
    pub copy_chunk_bytes: usize,
    pub counters: &'a Counters,
    pub mappings: &'a mut MappingCache,
}

/// Why `Job::run` returned without finishing.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Every piece is written.
    Done,
    /// The socket is full: wait for EPOLLOUT.
    Blocked,
    /// The turn's byte budget is spent: let other connections go first.
    Yielded,
}

pub struct Job {
    pub id: u64,
    pub path: FetchPath,
    pieces: Vec<Piece>,
    /// The piece being written, and the bytes of it already written.
    piece: usize,
    piece_done: u64,
    /// The index of the last non-empty piece: writes before it carry MSG_MORE.
    last_piece: usize,
    pub sent: u64,
    /// The copy path's buffer: `copy_buf[copy_at..]` was read from the file and not yet sent.
    copy_buf: Vec<u8>,
    copy_at: usize,
    /// Set once the warmer has brought the job's ranges into the page cache.
    pub warmed: bool,
}

impl Job {
    pub fn new(id: u64, path: FetchPath, pieces: Vec<Piece>) -> Job {
        let last_piece = pieces.iter().rposition(|p| !p.is_empty()).unwrap_or(0);
        Job { id, path, pieces, piece: 0, piece_done: 0, last_piece, sent: 0, copy_buf: Vec::new(), copy_at: 0, warmed: false }
    }

    pub fn total_bytes(&self) -> u64 {
        self.pieces.iter().map(Piece::len).sum()
    }

    /// The file ranges not yet (fully) written.
    pub fn pending_file_pieces(&self) -> impl Iterator<Item = FilePiece> + '_ {
        let (at, done) = (self.piece, self.piece_done);
        self.pieces.iter().enumerate().skip(at).filter_map(move |(i, p)| match p {
            Piece::File(f) if i == at => Some(FilePiece { file: f.file.clone(), position: f.position + done, len: f.len - done }),
            Piece::File(f) => Some(f.clone()),
            Piece::Bytes(_) => None,
        })
    }

    /// Writes pieces until the job is done, the socket is full, or `budget` bytes were written.
    /// Thread-compatible: one sender thread owns the job.
    pub fn run(&mut self, fd: RawFd, budget: &mut u64, cx: &mut SendContext) -> Result<Progress, TransferError> {
        while self.piece < self.pieces.len() {
            let remaining = self.pieces[self.piece].len() - self.piece_done;
            if remaining == 0 {
                self.piece += 1;
                self.piece_done = 0;
                continue;
            }
            if *budget == 0 {
                return Ok(Progress::Yielded);
            }
            let more = self.piece < self.last_piece;
            let written = match self.write_some(fd, remaining, more, cx) {
                Ok(n) => n,
                Err(WriteError::WouldBlock) => return Ok(Progress::Blocked),
                Err(WriteError::Failed(e)) => return Err(e),
            };
            self.piece_done += written;
            self.sent += written;
            *budget = budget.saturating_sub(written);
        }
        Ok(Progress::Done)
    }

    fn write_some(&mut self, fd: RawFd, remaining: u64, more: bool, cx: &mut SendContext) -> Result<u64, WriteError> {
        let done = self.piece_done;
        let piece = &self.pieces[self.piece];
        let counters = cx.counters;
        match piece {
            Piece::Bytes(bytes) => {
                let n = sys::send(fd, &bytes[done as usize..], more).map_err(WriteError::socket)?;
                counters.write_calls.fetch_add(1, Relaxed);
                counters.header_bytes.fetch_add(n as u64, Relaxed);
                Ok(n as u64)
            }
            Piece::File(f) => match self.path {
                FetchPath::Sendfile => {
                    let want = remaining.min(cx.sendfile_chunk_bytes as u64) as usize;
                    let n = sys::sendfile(fd, &f.file, f.position + done, want)
                        .map_err(|e| WriteError::from_io(e, TransferError::sendfile))?;
                    counters.sendfile_calls.fetch_add(1, Relaxed);
                    if n == 0 {
                        return Err(WriteError::Failed(short_file()));
                    }
                    counters.sendfile_bytes.fetch_add(n as u64, Relaxed);
                    Ok(n as u64)
                }
                FetchPath::Mmap => {
                    let want = remaining.min(cx.copy_chunk_bytes as u64) as usize;
                    let bytes = cx
                        .mappings
                        .bytes(&f.file, f.position + done, want)
                        .map_err(|e| WriteError::Failed(TransferError::storage(format!("mmap failed: {e}"))))?;
                    let n = sys::send(fd, bytes, more || want as u64 != remaining).map_err(WriteError::socket)?;
                    counters.write_calls.fetch_add(1, Relaxed);
                    counters.mmap_bytes.fetch_add(n as u64, Relaxed);
                    Ok(n as u64)
                }
                FetchPath::Copy => {
                    if self.copy_at == self.copy_buf.len() {
                        let want = remaining.min(cx.copy_chunk_bytes as u64) as usize;
                        self.copy_buf.resize(want, 0);
                        let n = sys::pread(&f.file, &mut self.copy_buf, f.position + done)
                            .map_err(|e| WriteError::Failed(TransferError::storage(format!("pread failed: {e}"))))?;
                        if n == 0 {
                            return Err(WriteError::Failed(short_file()));
                        }
                        self.copy_buf.truncate(n);
                        self.copy_at = 0;
                        counters.copied_bytes.fetch_add(n as u64, Relaxed);
                    }
                    let chunk = &self.copy_buf[self.copy_at..];
                    let n = sys::send(fd, chunk, more || chunk.len() as u64 != remaining).map_err(WriteError::socket)?;
                    counters.write_calls.fetch_add(1, Relaxed);
                    counters.copy_bytes.fetch_add(n as u64, Relaxed);
                    self.copy_at += n;
                    if self.copy_at == self.copy_buf.len() && remaining == n as u64 {
                        // Done with this range: free the buffer so an idle connection holds none.
                        self.copy_buf = Vec::new();
                        self.copy_at = 0;
                    }
                    Ok(n as u64)
                }
            },
        }
    }
}

fn short_file() -> TransferError {
    TransferError::storage("segment file is shorter than the range being sent")
}

enum WriteError {
    WouldBlock,
    Failed(TransferError),
}

impl WriteError {
    fn from_io(err: io::Error, classify: fn(&io::Error) -> TransferError) -> WriteError {
        if err.kind() == io::ErrorKind::WouldBlock {
            WriteError::WouldBlock
        } else {
            WriteError::Failed(classify(&err))
        }
    }

    fn socket(err: io::Error) -> WriteError {
        Self::from_io(err, TransferError::socket)
    }
}
