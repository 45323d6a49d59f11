// Authentication and per-topic permissions, from the `--auth-file` JSON:
//
//   { "principals": { "alice": { "tokenSha256": "<hex>", "read": ["orders", "logs-*"],
//                                "write": ["orders"], "admin": false } } }
//
// A client authenticates once per connection with its token (the file keeps only SHA-256 hashes,
// so it leaks no secret); until then it may only ask ApiVersions and Authenticate. A topic pattern
// is a name, a prefix ending in `*`, or `*`. Read covers Fetch, ListOffsets, OffsetCommit and
// OffsetFetch; write covers Produce; admin covers CreateTopics, DeleteTopics and auto-creation;
// replication (Kafka's ClusterAction) covers what a cluster's brokers ask of each other: fetching
// as a follower (which moves the leader's ISR and high watermark, so no mere reader may) and
// OffsetForLeaderEpoch as one, of every topic.
// Group membership APIs need only an authenticated principal (Kafka also has group ACLs; Sluice
// does not yet). Without an auth file every connection is anonymous and may do anything.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SluiceError } from '../errors.js';

export type Operation = 'read' | 'write' | 'admin' | 'replication';

export interface Principal {
  name: string;
  read: readonly string[];
  write: readonly string[];
  admin: boolean;
  /** May fetch as a follower broker (the brokers of a cluster authenticate as such a principal). */
  replication: boolean;
}

/** Who a connection is: nobody yet (auth on, not authenticated) or a principal. */
export interface Session {
  principal: Principal | null;
}

export const ANONYMOUS: Principal = { name: 'ANONYMOUS', read: ['*'], write: ['*'], admin: true, replication: true };

export class AccessControl {
  readonly #byTokenHash: ReadonlyMap<string, Principal>;

  private constructor(byTokenHash: Map<string, Principal>) {
    this.#byTokenHash = byTokenHash;
  }

  /** Loads and checks an auth file; a bad one is INVALID_CONFIG naming the problem. */
  static fromFile(path: string): AccessControl {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new SluiceError('INVALID_CONFIG', `auth file ${path}: ${(err as Error).message}`);
    }
    const bad = (why: string) => new SluiceError('INVALID_CONFIG', `auth file ${path}: ${why}`);
    const principals = (parsed as { principals?: unknown } | null)?.principals;
    if (!principals || typeof principals !== 'object' || Array.isArray(principals)) throw bad('needs a "principals" object');
    const byTokenHash = new Map<string, Principal>();
    for (const [name, entry] of Object.entries(principals as Record<string, unknown>)) {
      const e = entry as { tokenSha256?: unknown; read?: unknown; write?: unknown; admin?: unknown; replication?: unknown };
      if (typeof e?.tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.tokenSha256)) throw bad(`${name}.tokenSha256 must be 64 lowercase hex digits`);
      const patterns = (field: 'read' | 'write') => {
        const v = e[field] ?? [];
        if (!Array.isArray(v) || !v.every((p) => typeof p === 'string' && p.length > 0)) throw bad(`${name}.${field} must be a list of topic patterns`);
        return v as string[];
      };
      if (e.admin !== undefined && typeof e.admin !== 'boolean') throw bad(`${name}.admin must be true or false`);
      if (e.replication !== undefined && typeof e.replication !== 'boolean') throw bad(`${name}.replication must be true or false`);
      if (byTokenHash.has(e.tokenSha256)) throw bad(`${name} has the same token as another principal`);
      byTokenHash.set(e.tokenSha256, { name, read: patterns('read'), write: patterns('write'), admin: e.admin === true, replication: e.replication === true });
    }
    return new AccessControl(byTokenHash);
  }

  /** The principal a token belongs to, if any. */
  principalOf(token: string): Principal | undefined {
    return this.#byTokenHash.get(hashToken(token));
  }

  /** The principal a token belongs to; SASL_AUTHENTICATION_FAILED when none. */
  authenticate(token: string): Principal {
    const principal = this.principalOf(token);
    if (!principal) throw new SluiceError('SASL_AUTHENTICATION_FAILED', 'authentication failed: unknown token');
    return principal;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function matches(patterns: readonly string[], topic: string): boolean {
  return patterns.some((p) => p === '*' || p === topic || (p.endsWith('*') && topic.startsWith(p.slice(0, -1))));
}

/** Why `principal` may not do `operation` on `topic` (undefined when it may). */
export function denied(principal: Principal, operation: Operation, topic?: string): SluiceError | undefined {
  if (operation === 'admin') {
    return principal.admin ? undefined : new SluiceError('CLUSTER_AUTHORIZATION_FAILED', `${principal.name} may not create or delete topics`);
  }
  if (operation === 'replication') {
    return principal.replication ? undefined : new SluiceError('CLUSTER_AUTHORIZATION_FAILED', `${principal.name} may not fetch as a follower broker (it needs "replication": true)`);
  }
  if (matches(principal[operation], topic!)) return undefined;
  return new SluiceError('TOPIC_AUTHORIZATION_FAILED', `${principal.name} may not ${operation} ${topic}`);
}
