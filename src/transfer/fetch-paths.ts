// The ways fetched file ranges reach a socket, and what a response is made of: the vocabulary
// the engine, the response writer and the Node path share (kept apart so none imports the other
// just for a type).

import type { LogSlice } from '../storage/partition-log.js';

/** How fetched file ranges reach a socket. All four put identical bytes on the wire. */
export const FETCH_PATHS = ['sendfile', 'mmap', 'copy', 'node'] as const;
export type FetchPath = (typeof FETCH_PATHS)[number];

export function isFetchPath(name: string): name is FetchPath {
  return (FETCH_PATHS as readonly string[]).includes(name);
}

/** A piece of a response: bytes (headers, framing) or a log slice (file ranges). */
export type ResponsePiece = Uint8Array | LogSlice;
