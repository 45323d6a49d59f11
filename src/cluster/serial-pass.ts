// One pass at a time over the cluster view: a change that arrives while a pass runs asks for one
// more after it (however many arrive, one), so every change is seen by a pass that starts after
// it. The controller and the replica manager both run this way.

export interface SerialPassOptions {
  /** A pass that threw (or asked to `retryLater`): reported, then run again after `retryAfterFailureMs` (absent: at the next change). */
  onError(err: unknown): void;
  retryAfterFailureMs?: number;
}

export class SerialPass {
  readonly #run: () => Promise<void>;
  readonly #o: SerialPassOptions;
  #running: Promise<void> | undefined;
  #again = false;
  #later = false;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(run: () => Promise<void>, options: SerialPassOptions) {
    this.#run = run;
    this.#o = options;
  }

  /** Runs a pass now, or once the running one ends. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#later = false;
    let failed = false;
    this.#running = this.#run()
      .catch((err: unknown) => {
        failed = true;
        this.#o.onError(err);
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        if ((failed || this.#later) && this.#o.retryAfterFailureMs !== undefined) {
          this.#again = false;
          clearTimeout(this.#retry);
          this.#retry = setTimeout(() => this.kick(), this.#o.retryAfterFailureMs);
          this.#retry.unref();
        } else if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Asks the running pass to be run again after `retryAfterFailureMs` (it lost a race: the view is about to change). */
  retryLater(): void {
    this.#later = true;
  }

  /** Resolves once no pass runs (passes asked for meanwhile included). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#running;
  }
}
