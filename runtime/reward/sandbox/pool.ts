/**
 * A bounded pool of sandbox worker processes: at most `size` programs run at once, the rest wait in order.
 * Workers are reused between jobs (a process costs tens of milliseconds to start), but one that hit a
 * limit is dropped and a fresh one started for the next job. `close` terminates them all.
 */
import type { JobResult } from './protocol.js';
import { SandboxWorker, type Limits } from './worker.js';

interface Pending {
  readonly job: { readonly code: string; readonly tests: readonly string[] };
  readonly resolve: (result: JobResult) => void;
}

export class SandboxPool {
  private readonly idle: SandboxWorker[] = [];
  private readonly queue: Pending[] = [];
  private running = 0;
  private closed = false;

  constructor(
    private readonly limits: Limits,
    private readonly size: number,
  ) {
    if (!(size >= 1)) throw new RangeError(`sandbox pool size must be at least 1, got ${size}`);
  }

  /** Runs one program; never rejects (a failure to start a worker is the job's failure). */
  run(code: string, tests: readonly string[]): Promise<JobResult> {
    if (this.closed) return Promise.resolve({ passed: 0, total: tests.length, failure: 'the sandbox is closed', severe: true });
    return new Promise((resolve) => {
      this.queue.push({ job: { code, tests }, resolve });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve({ passed: 0, total: p.job.tests.length, failure: 'the sandbox is closed', severe: true });
    for (const w of this.idle.splice(0)) w.kill('closed');
  }

  private pump(): void {
    while (this.running < this.size && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      void this.execute(next).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async execute({ job, resolve }: Pending): Promise<void> {
    let worker = this.idle.pop();
    // an idle worker can die (killed from outside); start a fresh one instead
    while (worker && !worker.alive) worker = this.idle.pop();
    try {
      worker ??= await SandboxWorker.start(this.limits);
    } catch (e) {
      resolve({ passed: 0, total: job.tests.length, failure: `the sandbox did not start: ${(e as Error).message}`, severe: true });
      return;
    }
    resolve(await worker.run(job));
    if (worker.alive && !this.closed) this.idle.push(worker);
    else if (worker.alive) worker.kill('closed');
  }
}
