/**
 * Runs a task on request, never two at once. Requests arriving during a run collapse into one
 * more run after it: a burst of changes costs at most the run in progress plus one, and the
 * last change of the burst is always seen by a run that started after it.
 */
export class SerialRunner {
  private running: Promise<void> | null = null;
  private queued = false;
  private stopped = false;

  /** `task` must not reject: report its failures inside it. */
  constructor(private readonly task: () => Promise<void>) {}

  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.queued = true;
      return;
    }
    this.running = this.drain();
  }

  /** Resolves once no run is in progress or queued. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Refuses further requests, drops the queued one, and resolves once the run in progress ends. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queued = false;
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.queued = false;
        await this.task();
      } while (this.queued && !this.stopped);
    } finally {
      this.running = null;
    }
  }
}
