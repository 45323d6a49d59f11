//! Tests of the load generators over real loopback TCP sockets and real files: the raw sendfile
//! loop and the sink agree on bytes, the sink checks framing and CRC-32C, the io_uring splice loop
//! delivers the file byte for byte.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::sink::{Sink, SinkMode};

fn data_file(len: usize, seed: u8) -> (tempfile::NamedTempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0] ^ seed).collect();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    f.flush().unwrap();
    (f, data)
}

#[test]
fn raw_baseline_and_sink_agree_on_bytes() {
    let (tmp, data) = data_file(1024 * 1024, 8);
    let file = File::open(tmp.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink = Sink::start(listener.local_addr().unwrap(), 4, SinkMode::Raw);
    let servers: Vec<TcpStream> = (0..4).map(|_| listener.accept().unwrap().0).collect();
    let fds: Vec<i32> = servers.iter().map(|s| s.as_raw_fd()).collect();
    let r = crate::raw::sendfile_fanout(&crate::raw::RawFanout { file: &file, file_len: data.len() as u64, fds: &fds, chunk_bytes: 64 * 1024, send_buffer_bytes: Some(100 * 1024), duration: Duration::from_millis(300) }).unwrap();
    drop(servers);
    let got = sink.wait().unwrap();
    assert!(r.bytes > 0);
    assert_eq!(got.consumers.iter().map(|c| c.bytes).sum::<u64>(), r.bytes);
}

#[test]
fn sink_checks_frames_and_crc() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink = Sink::start(listener.local_addr().unwrap(), 2, SinkMode::FramedCrc);
    let mut a = listener.accept().unwrap().0;
    let mut b = listener.accept().unwrap().0;
    a.write_all(&[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0]).unwrap();
    b.write_all(&[0, 0, 0, 5, b'x']).unwrap();
    drop((a, b));
    let mut r = sink.wait().unwrap().consumers;
    r.sort_by_key(|c| c.bytes);
    assert_eq!((r[1].frames, r[1].payload_bytes, r[1].crc), (2, 3, crc32c::crc32c(b"abc")));
    assert!(r[1].error.is_none());
    assert!(r[0].error.as_deref().unwrap().contains("inside a frame"));
}

#[test]
fn uring_splice_fanout_delivers_the_file_over_and_over_byte_for_byte() {
    let (tmp, data) = data_file(300_000, 7);
    let file = File::open(tmp.path()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let addr = listener.local_addr().unwrap();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let mut got = Vec::new();
                s.read_to_end(&mut got).unwrap();
                got
            })
        })
        .collect();
    let servers: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
    let fds: Vec<i32> = servers.iter().map(|s| s.as_raw_fd()).collect();
    // A chunk smaller than the file and not dividing it: chains wrap around the end.
    let r = crate::uring::splice_fanout(&crate::raw::RawFanout { file: &file, file_len: data.len() as u64, fds: &fds, chunk_bytes: 70_000, send_buffer_bytes: Some(100 * 1024), duration: Duration::from_millis(300) }).unwrap();
    drop(servers);
    let mut total = 0u64;
    for reader in readers {
        let got = reader.join().unwrap();
        total += got.len() as u64;
        assert!(got.len() > data.len(), "each socket got the file more than once ({} bytes)", got.len());
        for (k, chunk) in got.chunks(data.len()).enumerate() {
            assert!(chunk == &data[..chunk.len()], "copy {k} differs from the file");
        }
    }
    assert_eq!(total, r.bytes, "what the sockets got is what the loop counted");
    assert!(r.submissions > 0 && r.enters > 0);
}
