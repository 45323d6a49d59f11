//! Decompressing a batch's records: when a batch's attributes name a codec (bits 0-2: 1 gzip,
//! 2 snappy, 3 lz4, 4 zstd), everything after its 61-byte header is one compressed stream of the
//! concatenated records. The log stores and serves batches as they came and never calls this on
//! the append or fetch paths; it is for the rare question that needs a record's own fields (the
//! broker's ListOffsets by time). Formats as Kafka's clients write them:
//! - gzip: an RFC 1952 stream (several members are read as one).
//! - snappy: Java's xerial framing (magic `\x82SNAPPY\0`, two int32 versions, then blocks of
//!   int32 length + raw snappy block), or one raw snappy block, as librdkafka also reads both.
//! - lz4: the LZ4 frame format (Kafka's magic-2 batches carry a correct header checksum).
//! - zstd: one or more zstd frames.
//! Output is capped (`max_bytes`): a small compressed batch must not become a huge allocation.

use std::io::Read;

use crate::error::{LogError, Result};

pub const GZIP: u8 = 1;
pub const SNAPPY: u8 = 2;
pub const LZ4: u8 = 3;
pub const ZSTD: u8 = 4;

const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\0";
/// The magic, then int32 version and int32 compatible version.
const XERIAL_HEADER_BYTES: usize = 16;

/// The records `data` holds compressed with `codec`, at most `max_bytes` of them.
/// CORRUPT_MESSAGE for an unknown codec, a stream that does not decode, or one past `max_bytes`.
pub fn decompress(codec: u8, data: &[u8], max_bytes: usize) -> Result<Vec<u8>> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| LogError::CorruptMessage(format!("{what} records do not decompress: {e}"));
    let out = match codec {
        GZIP => read_capped(flate2::read::MultiGzDecoder::new(data), max_bytes).map_err(|e| corrupt("gzip", &e))?,
        SNAPPY => snappy(data, max_bytes).map_err(|e| corrupt("snappy", &e))?,
        LZ4 => read_capped(lz4_flex::frame::FrameDecoder::new(data), max_bytes).map_err(|e| corrupt("lz4", &e))?,
        ZSTD => zstd(data, max_bytes).map_err(|e| corrupt("zstd", &e))?,
        other => return Err(LogError::CorruptMessage(format!("compression codec {other} is not one of Kafka's (1-4)"))),
    };
    Ok(out)
}

/// Reads `reader` to its end, failing once more than `max_bytes` come out.
fn read_capped(reader: impl Read, max_bytes: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(max_bytes as u64 + 1).read_to_end(&mut out)?;
    if out.len() > max_bytes {
        return Err(std::io::Error::other(format!("more than {max_bytes} bytes")));
    }
    Ok(out)
}

fn snappy(data: &[u8], max_bytes: usize) -> std::io::Result<Vec<u8>> {
    let mut decoder = snap::raw::Decoder::new();
    let mut block = |raw: &[u8], out: &mut Vec<u8>| -> std::io::Result<()> {
        let size = snap::raw::decompress_len(raw)?;
        if out.len() + size > max_bytes {
            return Err(std::io::Error::other(format!("more than {max_bytes} bytes")));
        }
        let at = out.len();
        out.resize(at + size, 0);
        decoder.decompress(raw, &mut out[at..])?;
        Ok(())
    };
    let mut out = Vec::new();
    if !data.starts_with(XERIAL_MAGIC) {
        block(data, &mut out)?;
        return Ok(out);
    }
    let mut rest = data.get(XERIAL_HEADER_BYTES..).ok_or_else(|| std::io::Error::other("truncated xerial header"))?;
    while !rest.is_empty() {
        let length = rest.get(..4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize).ok_or_else(|| std::io::Error::other("truncated xerial block length"))?;
        let raw = rest.get(4..4 + length).ok_or_else(|| std::io::Error::other("xerial block runs past the data"))?;
        block(raw, &mut out)?;
        rest = &rest[4 + length..];
    }
    Ok(out)
}

fn zstd(data: &[u8], max_bytes: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let decoder = ruzstd::decoding::StreamingDecoder::new(&mut rest).map_err(std::io::Error::other)?;
        out.extend(read_capped(decoder, max_bytes - out.len())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const RECORDS: &[u8] = b"records records records records, and more records";

    #[test]
    fn each_codec_round_trips_and_refuses_garbage_and_bombs() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(RECORDS).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decompress(GZIP, &gz, 1 << 20).unwrap(), RECORDS);

        let raw = snap::raw::Encoder::new().compress_vec(RECORDS).unwrap();
        assert_eq!(decompress(SNAPPY, &raw, 1 << 20).unwrap(), RECORDS, "a raw snappy block");
        let mut xerial = XERIAL_MAGIC.to_vec();
        xerial.extend(1i32.to_be_bytes());
        xerial.extend(1i32.to_be_bytes());
        for half in [&RECORDS[..10], &RECORDS[10..]] {
            let block = snap::raw::Encoder::new().compress_vec(half).unwrap();
            xerial.extend((block.len() as u32).to_be_bytes());
            xerial.extend(block);
        }
        assert_eq!(decompress(SNAPPY, &xerial, 1 << 20).unwrap(), RECORDS, "xerial-framed blocks, as Java writes them");

        let mut lz4 = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz4.write_all(RECORDS).unwrap();
        assert_eq!(decompress(LZ4, &lz4.finish().unwrap(), 1 << 20).unwrap(), RECORDS);

        let zstd = ruzstd::encoding::compress_to_vec(RECORDS, ruzstd::encoding::CompressionLevel::Fastest);
        assert_eq!(decompress(ZSTD, &zstd, 1 << 20).unwrap(), RECORDS);

        for codec in [GZIP, SNAPPY, LZ4, ZSTD] {
            assert_eq!(decompress(codec, b"not compressed at all", 1 << 20).unwrap_err().code(), "CORRUPT_MESSAGE", "codec {codec}");
        }
        assert_eq!(decompress(5, &gz, 1 << 20).unwrap_err().code(), "CORRUPT_MESSAGE");
        assert_eq!(decompress(GZIP, &gz, RECORDS.len() - 1).unwrap_err().code(), "CORRUPT_MESSAGE", "past the cap");
        assert_eq!(decompress(GZIP, &gz, RECORDS.len()).unwrap(), RECORDS, "exactly the cap");
    }
}
