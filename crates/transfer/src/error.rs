//! Errors of the transfer engine, each with a stable code that the binding passes to JS.

use std::fmt;
use std::io;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferError {
    pub code: &'static str,
    pub message: String,
}

/// The job was cancelled: its connection was unregistered or the engine shut down.
pub const CANCELLED: &str = "TRANSFER_CANCELLED";
/// The peer went away or the socket failed; the connection is unusable.
pub const NETWORK_EXCEPTION: &str = "NETWORK_EXCEPTION";
/// A segment file could not be read (I/O error, or shorter than the range).
pub const STORAGE: &str = "KAFKA_STORAGE_ERROR";
/// The job named a connection the engine does not know.
pub const UNKNOWN_CONNECTION: &str = "UNKNOWN_CONNECTION";
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";

impl TransferError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        TransferError { code, message: message.into() }
    }

    pub fn cancelled(why: &str) -> Self {
        Self::new(CANCELLED, format!("transfer cancelled: {why}"))
    }

    /// Classifies a failed socket write.
    pub fn socket(err: &io::Error) -> Self {
        Self::new(NETWORK_EXCEPTION, format!("socket write failed: {err}"))
    }

    /// Classifies a failed `sendfile`, which may be the socket's fault or the file's.
    pub fn sendfile(err: &io::Error) -> Self {
        match err.raw_os_error() {
            Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN | libc::ETIMEDOUT | libc::EHOSTUNREACH) => {
                Self::socket(err)
            }
            _ => Self::new(STORAGE, format!("sendfile failed: {err}")),
        }
    }

    pub fn storage(what: impl fmt::Display) -> Self {
        Self::new(STORAGE, what.to_string())
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for TransferError {}
