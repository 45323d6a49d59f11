// The layering rule an import graph cannot see: a door's handlers get the broker session (they
// hand it to the broker API), whose fields include the domain services the broker API works with
// (the log, the topic registry, the groups, the placement, access control). A door that read them
// would skip the rules the broker API holds once for both doors (authorization, visibility, limits),
// so no door reads them: `ctx.log`, `ctx.topics`, `ctx.groups`, ... anywhere under src/doors/sluice
// or src/doors/kafka is an error. Run by `npm run lint:layers` beside dependency-cruiser.
//
// Usage: node scripts/check-door-sessions.mjs [ROOT]   (exit 1 and one line per use when broken)

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
const DOORS = ['src/doors/sluice', 'src/doors/kafka'];
/** BrokerSession's fields that only the broker API may read (src/broker/session.ts). */
const SERVICES = ['log', 'topics', 'groups', 'placement', 'access', 'offsetsTopic'];
const USE = new RegExp(`\\b(?:ctx|session|s)\\.(${SERVICES.join('|')})\\b`, 'g');

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts')) yield path;
  }
}

const found = [];
for (const door of DOORS) {
  let files;
  try {
    files = [...sources(join(root, door))];
  } catch {
    continue; // a tree without this door
  }
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, k) => {
        for (const m of line.matchAll(USE)) found.push(`${relative(root, file)}:${k + 1}: reads the session's ${m[1]}; call the broker API (src/broker) instead`);
      });
  }
}
if (found.length > 0) {
  console.error(`error doors-through-broker-session: ${found.length} use(s) of the broker's services in a door\n${found.join('\n')}`);
  process.exit(1);
}
console.log('door sessions: no door reads the broker\'s services');
