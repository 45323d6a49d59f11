// The crash loop under acks=1 with the broker flushing every 50 ms: acknowledged records are in
// the page cache, which a SIGKILL does not lose; the same checks as crash-loop.test.ts.

import t from 'tap';
import { CRASH_LOOP_CYCLES, crashLoop } from './helpers/crash-loop.js';

t.test(`${CRASH_LOOP_CYCLES} SIGKILLs under acks=1 with a 50 ms flush interval: every acknowledged record survives, once, in order`, (t) => crashLoop(t, 1, 50));
