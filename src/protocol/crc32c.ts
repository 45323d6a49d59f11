// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as RecordBatch v2 uses it. Pure
// TypeScript, slicing by 8 bytes, so the codec works where the native addon is absent (a
// client-only install). When the addon is loaded, native.ts hands its hardware-accelerated CRC to
// `useCrc32c` and the codec uses that instead: same function, same answers. No I/O.

const POLY = 0x82f63b78;

/** TABLES[k][b]: the CRC of byte b followed by k zero bytes. */
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[0]![b] = c >>> 0;
  }
  for (let b = 0; b < 256; b++) {
    for (let k = 1; k < 8; k++) t[k]![b] = (t[k - 1]![b]! >>> 8) ^ t[0]![t[k - 1]![b]! & 0xff]!;
  }
  return t;
})();

/** CRC-32C of `data` in pure TypeScript; `initial` continues an earlier CRC. */
export function crc32cPure(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = ~initial >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const lo = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < data.length; i++) crc = t0[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

let implementation: (data: Uint8Array, initial: number) => number = crc32cPure;

/** CRC-32C of `data`; `initial` continues an earlier CRC. */
export function crc32c(data: Uint8Array, initial = 0): number {
  return implementation(data, initial);
}

/** Installs a faster implementation of the same function (the native addon's). */
export function useCrc32c(fn: (data: Uint8Array, initial: number) => number): void {
  implementation = fn;
}
