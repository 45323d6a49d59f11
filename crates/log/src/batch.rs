//! The RecordBatch v2 header: the only part of Kafka's record format the storage core reads.
//!
//! Layout (big-endian), see `protocol/PROTOCOL.md`:
//! ```text
//!  0 baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32
//! 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64
//! 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordsCount i32 | 61 records...
//! ```
//! The CRC-32C covers bytes [21, end): it does not cover the fields the log stamps (baseOffset,
//! partitionLeaderEpoch), so stamping never recomputes it. Records are never decoded here.

use crate::error::{LogError, Result};

/// baseOffset + batchLength: the bytes not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// Size of the fixed header, i.e. of a batch with no records.
pub const HEADER_BYTES: usize = 61;
/// The only supported magic.
pub const MAGIC_V2: i8 = 2;

const BATCH_LENGTH_AT: usize = 8;
const LEADER_EPOCH_AT: usize = 12;
const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
/// The smallest record: varints length, timestampDelta, offsetDelta, key length (-1), value length
/// (-1) and header count of one byte each, plus the attributes byte.
const MIN_RECORD_BYTES: usize = 7;
const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const CRC_FROM: usize = 21;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const MAX_TIMESTAMP_AT: usize = 35;
const RECORDS_COUNT_AT: usize = 57;

/// The fields of a batch header the log uses. `base_offset` is whatever the bytes say (the
/// producer's value before stamping, the assigned offset once in the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Whole batch size in bytes, LOG_OVERHEAD included.
    pub size_bytes: usize,
    pub magic: i8,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads the header fields from the first `HEADER_BYTES` of `buf` without validating them.
    /// Returns None when `buf` is shorter than a header.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < HEADER_BYTES {
            return None;
        }
        let batch_length = be_i32(buf, BATCH_LENGTH_AT);
        Some(BatchHeader {
            base_offset: be_i64(buf, 0),
            size_bytes: (batch_length.max(0) as usize) + LOG_OVERHEAD,
            magic: buf[MAGIC_AT] as i8,
            attributes: i16::from_be_bytes([buf[ATTRIBUTES_AT], buf[ATTRIBUTES_AT + 1]]),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_AT),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_AT),
            records_count: be_i32(buf, RECORDS_COUNT_AT),
        })
    }

    /// The offset of the last record of the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// The offset that follows this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
}

/// Validates the one batch that starts at `buf[0]`, which must hold at least `max_batch_bytes` or
/// the whole batch. Checks, in order: header bounds, size limit, batch within `buf`, magic, CRC,
/// record count. Returns the header.
pub fn check_batch(buf: &[u8], max_batch_bytes: usize) -> Result<BatchHeader> {
    if buf.len() < HEADER_BYTES {
        return Err(LogError::CorruptMessage(format!(
            "truncated batch: {} bytes left, a batch header needs {HEADER_BYTES}",
            buf.len()
        )));
    }
    let batch_length = be_i32(buf, BATCH_LENGTH_AT);
    if batch_length < (HEADER_BYTES - LOG_OVERHEAD) as i32 {
        return Err(LogError::CorruptMessage(format!(
            "batchLength {batch_length} is smaller than a batch header"
        )));
    }
    let size_bytes = batch_length as usize + LOG_OVERHEAD;
    if size_bytes > max_batch_bytes {
        return Err(LogError::MessageTooLarge(format!(
            "batch of {size_bytes} bytes exceeds maxBatchBytes {max_batch_bytes}"
        )));
    }
    if size_bytes > buf.len() {
        return Err(LogError::CorruptMessage(format!(
            "batch of {size_bytes} bytes extends beyond the {} bytes given",
            buf.len()
        )));
    }
    let header = BatchHeader::parse(buf).expect("size checked above");
    if header.magic != MAGIC_V2 {
        return Err(LogError::CorruptMessage(format!(
            "unsupported magic {} (only RecordBatch v2, magic 2)",
            header.magic
        )));
    }
    let stored_crc = u32::from_be_bytes(buf[CRC_AT..CRC_AT + 4].try_into().unwrap());
    let actual_crc = crc32c::crc32c(&buf[CRC_FROM..size_bytes]);
    if stored_crc != actual_crc {
        return Err(LogError::CorruptMessage(format!(
            "CRC-32C mismatch: batch says {stored_crc:#010x}, bytes give {actual_crc:#010x}"
        )));
    }
    if header.last_offset_delta < 0 || header.records_count as i64 != header.last_offset_delta as i64 + 1 {
        return Err(LogError::InvalidRecord(format!(
            "recordsCount {} does not match lastOffsetDelta {} + 1",
            header.records_count, header.last_offset_delta
        )));
    }
    // Records are not parsed here, but an uncompressed one takes at least MIN_RECORD_BYTES: a small
    // batch cannot claim (and take) billions of offsets. (Compressed records have no such floor.)
    let compressed = header.attributes & COMPRESSION_MASK != 0;
    if !compressed && header.records_count as usize > (size_bytes - HEADER_BYTES) / MIN_RECORD_BYTES {
        return Err(LogError::InvalidRecord(format!(
            "recordsCount {} cannot fit in {} bytes of records",
            header.records_count,
            size_bytes - HEADER_BYTES
        )));
    }
    Ok(header)
}

/// Validates every batch in `buf`, which must be one or more whole batches and nothing else.
/// Returns their headers in order, or the error of the first bad batch.
pub fn validate_batches(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>> {
    if buf.is_empty() {
        return Err(LogError::InvalidRecord("an append needs at least one record batch".into()));
    }
    let mut headers = Vec::new();
    let mut position = 0;
    while position < buf.len() {
        let header = check_batch(&buf[position..], max_batch_bytes).map_err(|e| at_batch(e, headers.len()))?;
        position += header.size_bytes;
        headers.push(header);
    }
    Ok(headers)
}

fn at_batch(err: LogError, index: usize) -> LogError {
    match err {
        LogError::CorruptMessage(m) => LogError::CorruptMessage(format!("batch {index}: {m}")),
        LogError::InvalidRecord(m) => LogError::InvalidRecord(format!("batch {index}: {m}")),
        LogError::MessageTooLarge(m) => LogError::MessageTooLarge(format!("batch {index}: {m}")),
        other => other,
    }
}

/// Writes the fields the log owns into a validated batch: its base offset and the leader epoch.
pub fn stamp(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has it (SSE 4.2, ARMv8 CRC).
/// `initial` continues a CRC computed over earlier bytes.
pub fn crc32c_append(initial: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(initial, data)
}

fn be_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(buf[at..at + 4].try_into().unwrap())
}

fn be_i64(buf: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(buf[at..at + 8].try_into().unwrap())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal valid batch with `records` empty records of `value_bytes` each, for tests.
    pub fn make_batch(records: i32, value_bytes: usize, max_timestamp: i64) -> Vec<u8> {
        let mut body = Vec::new();
        for i in 0..records {
            // record: length, attributes, timestampDelta, offsetDelta, key -1, value, 0 headers
            let mut rec = vec![0u8];
            rec.push(0); // timestampDelta 0
            rec.extend(zigzag(i as i64));
            rec.extend(zigzag(-1));
            rec.extend(zigzag(value_bytes as i64));
            rec.extend(std::iter::repeat((i % 251) as u8).take(value_bytes));
            rec.push(0);
            body.extend(zigzag(rec.len() as i64));
            body.extend(rec);
        }
        let mut b = vec![0u8; HEADER_BYTES];
        let len = (HEADER_BYTES - LOG_OVERHEAD + body.len()) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        b[16] = 2;
        b[23..27].copy_from_slice(&(records - 1).to_be_bytes());
        b[27..35].copy_from_slice(&max_timestamp.to_be_bytes());
        b[35..43].copy_from_slice(&max_timestamp.to_be_bytes());
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
        b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
        b[57..61].copy_from_slice(&records.to_be_bytes());
        b.extend(body);
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn zigzag(v: i64) -> Vec<u8> {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        let mut out = Vec::new();
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return out;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    #[test]
    fn accepts_valid_batches_and_reports_headers() {
        let mut buf = make_batch(3, 10, 1000);
        buf.extend(make_batch(1, 5, 2000));
        let headers = validate_batches(&buf, 1 << 20).unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].records_count, 3);
        assert_eq!(headers[1].max_timestamp, 2000);
        assert_eq!(headers[0].size_bytes + headers[1].size_bytes, buf.len());
    }

    #[test]
    fn rejects_each_kind_of_bad_batch_with_its_code() {
        let good = make_batch(2, 8, 1);
        let code = |b: &[u8], max: usize| validate_batches(b, max).unwrap_err().code();
        assert_eq!(code(&[], 1 << 20), "INVALID_RECORD");
        assert_eq!(code(&good[..40], 1 << 20), "CORRUPT_MESSAGE");
        assert_eq!(code(&good[..good.len() - 1], 1 << 20), "CORRUPT_MESSAGE");
        assert_eq!(code(&good, good.len() - 1), "MESSAGE_TOO_LARGE");
        let mut bad_magic = good.clone();
        bad_magic[16] = 1;
        assert_eq!(code(&bad_magic, 1 << 20), "CORRUPT_MESSAGE");
        let mut bad_crc = good.clone();
        *bad_crc.last_mut().unwrap() ^= 0x40;
        assert_eq!(code(&bad_crc, 1 << 20), "CORRUPT_MESSAGE");
        let mut bad_count = good.clone();
        bad_count[57..61].copy_from_slice(&5i32.to_be_bytes());
        let crc = crc32c::crc32c(&bad_count[21..]);
        bad_count[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(code(&bad_count, 1 << 20), "INVALID_RECORD");
        let mut short_len = good.clone();
        short_len[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert_eq!(code(&short_len, 1 << 20), "CORRUPT_MESSAGE");
    }

    #[test]
    fn stamping_keeps_the_crc_valid() {
        let mut b = make_batch(4, 3, 7);
        stamp(&mut b, 123_456_789_012, 9);
        let h = check_batch(&b, 1 << 20).unwrap();
        assert_eq!(h.base_offset, 123_456_789_012);
        assert_eq!(h.last_offset(), 123_456_789_015);
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c_append(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_append(crc32c_append(0, b"1234"), b"56789"), 0xE306_9283);
    }
}
