// Time is injected: domain code asks a Clock (and schedules timeouts on a Scheduler), so tests
// drive time without sleeping.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** Milliseconds that never jump (performance.now()): what lease fencing compares keepalive send times with. */
export const monotonicClock: Clock = { nowMs: () => performance.now() };

/** A clock that moves only when told to (tests). */
export class ManualClock implements Clock {
  constructor(private currentMs = 0) {}
  nowMs(): number {
    return this.currentMs;
  }
  advance(ms: number): void {
    this.currentMs += ms;
  }
  set(ms: number): void {
    this.currentMs = ms;
  }
}

/** A clock that can also run a function later. Group timeouts use it, so tests drive them without sleeping. */
export interface Scheduler extends Clock {
  /** Runs `fn` after `delayMs`; returns a function that cancels it. */
  schedule(delayMs: number, fn: () => void): () => void;
}

export const systemScheduler: Scheduler = {
  nowMs: () => Date.now(),
  schedule(delayMs, fn) {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** A scheduler whose time moves only by `advance`, which runs what falls due, in time order (tests). */
export class ManualScheduler extends ManualClock implements Scheduler {
  #timers: Array<{ atMs: number; seq: number; fn: () => void }> = [];
  #seq = 0;

  schedule(delayMs: number, fn: () => void): () => void {
    const timer = { atMs: this.nowMs() + Math.max(0, delayMs), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  override advance(ms: number): void {
    const target = this.nowMs() + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.atMs <= target).sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.set(due.atMs);
      due.fn();
    }
    this.set(target);
  }

  /** Timers not yet run. */
  get pending(): number {
    return this.#timers.length;
  }
}
