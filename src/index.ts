// The package's public API.

export { SluiceError, ERRORS, type ErrorCode } from './errors.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { crc32c } from './native.js';
export { PartitionLog, type AppendResult, type FileRange, type LogSlice, type LogOptions, type LogStats } from './storage/partition-log.js';
export {
  encodeRecordBatch,
  decodeRecordBatch,
  decodeRecordBatches,
  type RecordInput,
  type DecodedBatch,
  type DecodedRecord,
  type BatchOptions,
} from './protocol/record-batch.js';
export { TransferEngine, FETCH_PATHS, isFetchPath, type FetchPath, type TransferCounters, type TransferEngineOptions } from './transfer/engine.js';
export { ResponseWriter, type ResponsePiece } from './transfer/response-writer.js';
