// How a failure inside a partition log reaches a client: a log closed under a request means the
// partition was deleted or the broker is stopping; anything unexpected is an unknown server error.

import { SluiceError } from '../errors.js';

/** Storage errors keep their codes; a closed log means the topic went away meanwhile. */
export function asSluiceError(err: unknown): SluiceError {
  if (err instanceof SluiceError) {
    return err.code === 'LOG_CLOSED' ? new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', 'the partition was deleted or the broker is stopping') : err;
  }
  return new SluiceError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err), { cause: err });
}
