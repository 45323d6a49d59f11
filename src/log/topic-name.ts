// Topic names, by Kafka's rules: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..". A name
// becomes a directory name (`<topic>-<partition>`), so these rules are also what keeps every
// request inside the data directory.

import { SluiceError } from '../errors.js';

export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL = /^[a-zA-Z0-9._-]+$/;

/** Throws INVALID_TOPIC_EXCEPTION with the reason when `name` is not a legal topic name. */
export function validateTopicName(name: string): void {
  const fail = (why: string) => new SluiceError('INVALID_TOPIC_EXCEPTION', `topic name ${JSON.stringify(name.slice(0, 300))} ${why}`);
  if (name.length === 0) throw fail('is empty');
  if (name.length > MAX_TOPIC_NAME_LENGTH) throw fail(`is longer than ${MAX_TOPIC_NAME_LENGTH} characters`);
  if (name === '.' || name === '..') throw fail('cannot be "." or ".."');
  if (!LEGAL.test(name)) throw fail('may contain only ASCII letters, digits, ".", "_" and "-"');
}

/** Kafka's rule: "a.b" and "a_b" collide in metric names, so only one of them may exist. */
export function collisionKey(name: string): string {
  return name.replaceAll('.', '_');
}
