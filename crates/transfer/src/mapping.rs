//! The mmap path's mappings: one read-only shared mapping per segment file, kept by a sender thread
//! and reused across jobs, as a broker that serves from mappings would (mapping per request would
//! charge the path an mmap, a munmap and fresh page-table faults every time).
//!
//! A mapping covers the file as long as it was when mapped; a range past that end remaps. Segment
//! files only grow while open (recovery truncates before any reader exists) and ranges never pass
//! the published high watermark, so no mapped page is ever truncated under a reader (no SIGBUS).
//! The cache holds each file's `Arc`, so it drops entries nobody else holds any more (segments
//! closed or deleted by retention) and keeps at most `MAX_MAPPINGS`.

use std::fs::File;
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};

const MAX_MAPPINGS: usize = 64;

struct Entry {
    file: Arc<File>,
    map: Mmap,
    last_used: u64,
}

#[derive(Default)]
pub struct MappingCache {
    entries: Vec<Entry>,
    clock: u64,
}

impl MappingCache {
    /// The mapped bytes `[position, position + len)` of `file`. Not thread-safe: one per thread.
    pub fn bytes(&mut self, file: &Arc<File>, position: u64, len: usize) -> std::io::Result<&[u8]> {
        self.clock += 1;
        let end = position + len as u64;
        let found = self.entries.iter().position(|e| Arc::ptr_eq(&e.file, file));
        let at = match found {
            Some(i) if self.entries[i].map.len() as u64 >= end => i,
            Some(i) => {
                self.entries[i].map = map_file(file, end)?;
                i
            }
            None => {
                self.evict();
                let map = map_file(file, end)?;
                self.entries.push(Entry { file: file.clone(), map, last_used: 0 });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[at];
        entry.last_used = self.clock;
        Ok(&entry.map[position as usize..end as usize])
    }

    /// Drops mappings of files nobody else holds (segments closed or deleted), closing them.
    pub fn release_unused(&mut self) {
        self.entries.retain(|e| Arc::strong_count(&e.file) > 1);
    }

    fn evict(&mut self) {
        self.release_unused();
        if self.entries.len() >= MAX_MAPPINGS {
            if let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i) {
                self.entries.swap_remove(oldest);
            }
        }
    }
}

/// Maps the whole file, at least `min_len` bytes of it.
fn map_file(file: &File, min_len: u64) -> std::io::Result<Mmap> {
    let len = file.metadata()?.len();
    if len < min_len {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "range past the end of the segment file"));
    }
    // SAFETY: segment files below the high watermark are immutable and never truncated while open
    // (see the module comment), so the mapped bytes cannot change or vanish under the reader.
    unsafe { MmapOptions::new().len(len as usize).map(file) }
}
