// Hosts of their own on one machine, for cutting the network between them: each host is a Linux
// network namespace joined to a bridge in this one by a veth pair, on a /24 of 10.213.0.0/16
// picked free. This process (the clients) reaches every host through the bridge's address.
// Faults: a host cut off from everything (its link down), or from some hosts only (blackhole
// routes on both sides); `healAll` undoes every one. Needs root and iproute2 (`ip`).

import { execFileSync } from 'node:child_process';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

export interface NetHost {
  name: string;
  /** The namespace's name (for `ip netns exec`). */
  ns: string;
  /** Its address on the bridge. */
  ip: string;
  /** Prepended to a command to run it in the namespace. */
  exec: string[];
}

export interface Network {
  /** The bridge's address: this process's on the network. */
  readonly hostIp: string;
  host(name: string): NetHost;
  /** Cuts `name` off from everything (its link down). */
  isolate(name: string): void;
  /** Cuts the traffic between `a` and each of `others`, both ways. */
  cut(a: string, others: readonly string[]): void;
  /** Undoes every cut and isolation. */
  healAll(): void;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this process may make namespaces (root with CAP_NET_ADMIN, iproute2 installed). */
export function namespacesAvailable(): boolean {
  try {
    const probe = `slprobe${process.pid % 100000}`;
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return true;
  } catch {
    return false;
  }
}

export function createNetwork(t: Teardown, names: readonly string[]): Network {
  const used: string[] = ip('-4', '-o', 'addr').match(/10\.213\.(\d+)\./g) ?? [];
  let subnet = 1 + (process.pid % 250);
  while (used.includes(`10.213.${subnet}.`)) subnet = 1 + ((subnet + 1) % 250);
  // Interface names are at most 15 bytes: a tag unique to this network, then a role and an index.
  const tag = `s${subnet}`;
  const bridge = `${tag}br`;
  const hostIp = `10.213.${subnet}.1`;
  const hosts = new Map<string, NetHost & { link: string }>();
  const blackholes: Array<{ ns: string; ip: string }> = [];
  const down = new Set<string>();
  const cleanup = () => {
    for (const h of hosts.values()) {
      try {
        ip('netns', 'del', h.ns);
      } catch {
        // already gone
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // already gone
    }
  };
  t.teardown(cleanup);
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${hostIp}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    names.forEach((name, i) => {
      const ns = `sluice-${tag}-${name}`;
      const link = `${tag}h${i}`;
      const inner = `${tag}n${i}`;
      const address = `10.213.${subnet}.${10 + i}`;
      ip('netns', 'add', ns);
      ip('link', 'add', link, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', ns);
      ip('link', 'set', link, 'master', bridge);
      ip('link', 'set', link, 'up');
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner);
      ip('-n', ns, 'link', 'set', inner, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts.set(name, { name, ns, ip: address, exec: ['ip', 'netns', 'exec', ns], link });
    });
  } catch (err) {
    cleanup();
    throw err;
  }
  const get = (name: string) => {
    const h = hosts.get(name);
    if (!h) throw new Error(`no host ${name} on this network`);
    return h;
  };
  return {
    hostIp,
    host: get,
    isolate(name) {
      const h = get(name);
      ip('link', 'set', h.link, 'down');
      down.add(h.link);
    },
    cut(a, others) {
      const h = get(a);
      for (const o of others.map(get)) {
        ip('-n', h.ns, 'route', 'add', 'blackhole', `${o.ip}/32`);
        blackholes.push({ ns: h.ns, ip: o.ip });
        ip('-n', o.ns, 'route', 'add', 'blackhole', `${h.ip}/32`);
        blackholes.push({ ns: o.ns, ip: h.ip });
      }
    },
    healAll() {
      for (const b of blackholes.splice(0)) ip('-n', b.ns, 'route', 'del', 'blackhole', `${b.ip}/32`);
      for (const link of down) ip('link', 'set', link, 'up');
      down.clear();
    },
  };
}
