//! Engine tests over real loopback TCP sockets and real files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::engine::{Completed, Engine, EngineConfig};
use crate::job::{FetchPath, FilePiece, Piece};

const PATHS: [FetchPath; 3] = [FetchPath::Sendfile, FetchPath::Mmap, FetchPath::Copy];

struct Harness {
    engine: Engine,
    done: mpsc::Receiver<Completed>,
    seen: HashMap<u64, Completed>,
}

impl Harness {
    fn new(config: EngineConfig) -> Harness {
        let (tx, rx) = mpsc::channel();
        let tx = parking_lot::Mutex::new(tx);
        let engine = Engine::start(
            config,
            Arc::new(move |batch: Vec<Completed>| {
                for c in batch {
                    let _ = tx.lock().send(c);
                }
            }),
        )
        .unwrap();
        Harness { engine, done: rx, seen: HashMap::new() }
    }

    fn wait(&mut self, job: u64) -> Completed {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(c) = self.seen.remove(&job) {
                return c;
            }
            let c = self.done.recv_timeout(deadline - Instant::now()).expect("job completion");
            self.seen.insert(c.job_id, c);
        }
    }
}

/// A connected pair: (server side, given to the engine; client side, read by the test).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (server, client)
}

fn data_file(len: usize, seed: u8) -> (tempfile::NamedTempFile, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i as u32).wrapping_mul(2654435761).to_be_bytes()[0] ^ seed).collect();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&data).unwrap();
    f.flush().unwrap();
    (f, data)
}

fn file_piece(file: &Arc<File>, position: u64, len: u64) -> Piece {
    Piece::File(FilePiece { file: file.clone(), position, len })
}

/// Header bytes, two file ranges and framing between them, and what they should put on the wire.
fn response(file: &Arc<File>, data: &[u8]) -> (Vec<Piece>, Vec<u8>) {
    let (a, b) = (data.len() / 3, data.len() / 2);
    let pieces = vec![
        Piece::Bytes(b"HEAD".to_vec()),
        file_piece(file, 0, a as u64),
        Piece::Bytes(b"-mid-".to_vec()),
        file_piece(file, b as u64, (data.len() - b) as u64),
        Piece::File(FilePiece { file: file.clone(), position: 7, len: 0 }),
    ];
    let mut expect = b"HEAD".to_vec();
    expect.extend_from_slice(&data[..a]);
    expect.extend_from_slice(b"-mid-");
    expect.extend_from_slice(&data[b..]);
    (pieces, expect)
}

fn read_exactly(mut client: TcpStream, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    client.read_exact(&mut out).unwrap();
    out
}

/// How many of this process's fds refer to the socket behind `fd`. Tests run on parallel
/// threads of one process, so a count of every open fd would race with the other tests;
/// the socket's inode names only this test's socket.
fn fds_for_socket_of(fd: &TcpStream) -> impl Fn() -> usize {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    move || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| *target == link)
            .count()
    }
}

#[test]
fn every_path_sends_the_same_bytes_in_order() {
    let (tmp, data) = data_file(3 * 1024 * 1024 + 17, 1);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    for path in PATHS {
        let mut h = Harness::new(EngineConfig::default());
        let (server, client) = pair();
        let conn = h.engine.register(server.as_raw_fd()).unwrap();
        drop(server); // the engine's duplicate keeps the socket open
        let (pieces, expect) = response(&file, &data);
        let jobs: Vec<u64> = (0..3).map(|_| h.engine.submit(conn, path, pieces.clone()).unwrap()).collect();
        let reader = std::thread::spawn(move || read_exactly(client, expect.len() * 3));
        for job in jobs {
            let c = h.wait(job);
            assert_eq!(c.result, Ok(()), "{path:?}");
            assert_eq!(c.bytes_sent, (data.len() - data.len() / 2 + data.len() / 3 + 9) as u64);
        }
        let got = reader.join().unwrap();
        let (_, expect) = response(&file, &data);
        assert!(got.chunks(expect.len()).all(|c| c == expect), "{path:?} bytes differ");
        let s = h.engine.counters();
        let file_bytes = 3 * (data.len() - data.len() / 2 + data.len() / 3) as u64;
        let by_path = match path {
            FetchPath::Sendfile => s.sendfile_bytes,
            FetchPath::Mmap => s.mmap_bytes,
            FetchPath::Copy => s.copy_bytes,
        };
        assert_eq!(by_path, file_bytes, "{path:?}");
        assert_eq!(s.sendfile_bytes + s.mmap_bytes + s.copy_bytes, file_bytes);
        assert_eq!(s.copied_bytes, if path == FetchPath::Copy { file_bytes } else { 0 });
        assert_eq!(s.header_bytes, 27);
        assert_eq!((s.jobs_completed, s.jobs_in_flight), (3, 0));
    }
}

#[test]
fn a_stalled_consumer_does_not_hold_up_the_others() {
    let (tmp, data) = data_file(8 * 1024 * 1024, 2);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    let mut h = Harness::new(EngineConfig::default());
    let (stalled_server, stalled_client) = pair();
    let stalled = h.engine.register(stalled_server.as_raw_fd()).unwrap();
    let stalled_job = h.engine.submit(stalled, FetchPath::Sendfile, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
    let mut others = Vec::new();
    for _ in 0..8 {
        let (server, client) = pair();
        let conn = h.engine.register(server.as_raw_fd()).unwrap();
        let job = h.engine.submit(conn, FetchPath::Sendfile, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
        let len = data.len();
        others.push((job, server, std::thread::spawn(move || read_exactly(client, len))));
    }
    for (job, _server, reader) in others {
        assert_eq!(h.wait(job).result, Ok(()));
        assert!(reader.join().unwrap() == data);
    }
    let s = h.engine.counters();
    assert_eq!(s.jobs_in_flight, 1, "only the stalled job is left");
    assert_eq!(s.connections_waiting_writable, 1);
    assert!(s.writable_waits >= 1);
    // The stalled consumer resumes and gets everything.
    let got = read_exactly(stalled_client, data.len());
    assert_eq!(h.wait(stalled_job).result, Ok(()));
    assert!(got == data);
    assert_eq!(h.engine.counters().connections_waiting_writable, 0);
    drop(stalled_server);
}

#[test]
fn unregister_cancels_jobs_and_closes_the_duplicate() {
    let (tmp, data) = data_file(4 * 1024 * 1024, 3);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    let mut h = Harness::new(EngineConfig::default());
    let (server, mut client) = pair();
    let fds_for_server = fds_for_socket_of(&server);
    let conn = h.engine.register(server.as_raw_fd()).unwrap();
    assert_eq!(fds_for_server(), 2, "the server socket and the engine's duplicate");
    let first = h.engine.submit(conn, FetchPath::Sendfile, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
    let second = h.engine.submit(conn, FetchPath::Copy, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
    // Nobody reads, so the first job parks on EPOLLOUT; then the connection goes away.
    while h.engine.counters().connections_waiting_writable == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    h.engine.unregister(conn);
    let (a, b) = (h.wait(first), h.wait(second));
    assert_eq!(a.result.unwrap_err().code, crate::error::CANCELLED);
    assert!(a.bytes_sent > 0 && a.bytes_sent < data.len() as u64);
    assert_eq!((b.result.unwrap_err().code, b.bytes_sent), (crate::error::CANCELLED, 0));
    drop(server);
    // With both fds closed the peer sees the end of the stream.
    let mut sink = Vec::new();
    client.read_to_end(&mut sink).unwrap();
    drop(client);
    assert_eq!(fds_for_server(), 0);
    let late = h.engine.submit(conn, FetchPath::Sendfile, vec![Piece::Bytes(vec![1])]).unwrap();
    assert_eq!(h.wait(late).result.unwrap_err().code, crate::error::UNKNOWN_CONNECTION);
    assert_eq!(h.engine.counters().connections, 0);
}

#[test]
fn a_vanished_peer_fails_the_job_and_the_rest_of_the_connection() {
    let (tmp, data) = data_file(16 * 1024 * 1024, 4);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    let mut h = Harness::new(EngineConfig::default());
    let (server, client) = pair();
    let conn = h.engine.register(server.as_raw_fd()).unwrap();
    let job = h.engine.submit(conn, FetchPath::Sendfile, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
    while h.engine.counters().connections_waiting_writable == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(client); // unread data makes the close an RST
    let c = h.wait(job);
    assert_eq!(c.result.unwrap_err().code, crate::error::NETWORK_EXCEPTION);
    let next = h.engine.submit(conn, FetchPath::Sendfile, vec![Piece::Bytes(vec![1])]).unwrap();
    assert_eq!(h.wait(next).result.unwrap_err().code, crate::error::NETWORK_EXCEPTION);
    // A healthy connection on the same engine is unaffected.
    let (server2, client2) = pair();
    let conn2 = h.engine.register(server2.as_raw_fd()).unwrap();
    let ok = h.engine.submit(conn2, FetchPath::Sendfile, vec![file_piece(&file, 0, 1000)]).unwrap();
    assert_eq!(h.wait(ok).result, Ok(()));
    assert!(read_exactly(client2, 1000) == data[..1000]);
    h.engine.unregister(conn);
    drop(server);
}

#[test]
fn a_deleted_segment_file_is_still_sent() {
    let (tmp, data) = data_file(2 * 1024 * 1024, 5);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    let mut h = Harness::new(EngineConfig::default());
    for path in PATHS {
        let (server, client) = pair();
        let conn = h.engine.register(server.as_raw_fd()).unwrap();
        let job = h.engine.submit(conn, path, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
        let len = data.len();
        let reader = std::thread::spawn(move || read_exactly(client, len));
        assert_eq!(h.wait(job).result, Ok(()));
        assert!(reader.join().unwrap() == data);
        h.engine.unregister(conn);
    }
    let path = tmp.path().to_path_buf();
    drop(tmp);
    assert!(!path.exists());
    let (server, client) = pair();
    let conn = h.engine.register(server.as_raw_fd()).unwrap();
    let job = h.engine.submit(conn, FetchPath::Mmap, vec![file_piece(&file, 100, 5000)]).unwrap();
    assert_eq!(h.wait(job).result, Ok(()));
    assert!(read_exactly(client, 5000) == data[100..5100]);
}

#[test]
fn a_range_past_the_end_of_the_file_is_a_storage_error() {
    let (tmp, _) = data_file(1000, 6);
    let file = Arc::new(File::open(tmp.path()).unwrap());
    let mut h = Harness::new(EngineConfig::default());
    for path in PATHS {
        let (server, _client) = pair();
        let conn = h.engine.register(server.as_raw_fd()).unwrap();
        let job = h.engine.submit(conn, path, vec![file_piece(&file, 500, 1000)]).unwrap();
        let c = h.wait(job);
        assert_eq!(c.result.unwrap_err().code, crate::error::STORAGE, "{path:?}");
        assert_eq!(c.bytes_sent, if path == FetchPath::Mmap { 0 } else { 500 }, "{path:?}");
    }
}

#[test]
fn cold_pages_go_through_the_warmer() {
    // On disk under target/ (a tmpfs /tmp could not drop the pages).
    let dir = tempfile::tempdir_in(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")).unwrap();
    let path = dir.path().join("cold.log");
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let file = Arc::new(File::open(&path).unwrap());
    file.sync_all().unwrap();
    crate::residency::evict(&file, 0, data.len() as u64).unwrap();
    assert!(!crate::residency::is_resident(&file, 0, data.len() as u64), "eviction left the pages cached");
    let mut h = Harness::new(EngineConfig::default());
    let (server, client) = pair();
    let conn = h.engine.register(server.as_raw_fd()).unwrap();
    let job = h.engine.submit(conn, FetchPath::Sendfile, vec![file_piece(&file, 0, data.len() as u64)]).unwrap();
    let len = data.len();
    let reader = std::thread::spawn(move || read_exactly(client, len));
    assert_eq!(h.wait(job).result, Ok(()));
    assert!(reader.join().unwrap() == data);
    let s = h.engine.counters();
    assert!(crate::residency::is_resident(&file, 0, data.len() as u64));
    assert_eq!(s.cold_page_waits, 1);
    assert_eq!(s.warmed_bytes, data.len() as u64);
}

#[test]
fn bad_registrations_are_refused() {
    let h = Harness::new(EngineConfig::default());
    let (tmp, _) = data_file(10, 9);
    let f = File::open(tmp.path()).unwrap();
    assert_eq!(h.engine.register(f.as_raw_fd()).unwrap_err().code, crate::error::INVALID_ARGUMENT);
    assert_eq!(h.engine.register(987654).unwrap_err().code, crate::error::INVALID_ARGUMENT);
    let bad = EngineConfig { sender_threads: 0, ..EngineConfig::default() };
    assert!(Engine::start(bad, Arc::new(|_| {})).is_err());
}
