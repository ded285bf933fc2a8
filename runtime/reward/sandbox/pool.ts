/**
 * A bounded pool of sandbox processes: at most `size` programs run at once, the rest wait in order.
 * Every program gets a fresh process that ends with it, so nothing one program does (even one that
 * escaped its context) can reach the next program's run or score. Starting a process costs ~50 ms
 * of wall time (docs/decisions/sandbox.md); the pool hides it by starting the next job's process
 * while a job runs (up to `size` spares, started on first use). `close` ends them all.
 */
import type { JobResult } from './protocol.js';
import { SandboxProcess, type Limits } from './worker.js';

interface Pending {
  readonly code: string;
  readonly tests: readonly string[];
  readonly resolve: (result: JobResult) => void;
}

/** A process starting, or why it could not start (never a rejected promise left unobserved). */
type Spare = Promise<SandboxProcess | Error>;

export class SandboxPool {
  private readonly spares: Spare[] = [];
  private readonly queue: Pending[] = [];
  private running = 0;
  private closed = false;

  constructor(
    private readonly limits: Limits,
    private readonly size: number,
  ) {
    if (!(size >= 1)) throw new RangeError(`sandbox pool size must be at least 1, got ${size}`);
  }

  /** Runs one program; never rejects (a failure to start a process is the job's failure). */
  run(code: string, tests: readonly string[]): Promise<JobResult> {
    if (this.closed) return Promise.resolve(closedResult(tests.length));
    return new Promise((resolve) => {
      this.queue.push({ code, tests, resolve });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.resolve(closedResult(p.tests.length));
    const spares = await Promise.all(this.spares.splice(0));
    for (const s of spares) if (s instanceof SandboxProcess) s.kill();
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

  private spare(): Spare {
    return SandboxProcess.start(this.limits).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  }

  private async execute({ code, tests, resolve }: Pending): Promise<void> {
    let proc = await (this.spares.shift() ?? this.spare());
    if (!this.closed && this.spares.length < this.size) this.spares.push(this.spare());
    // a spare can die while it waits (killed from outside, or spoiled): start a fresh one instead
    if (proc instanceof SandboxProcess && !proc.usable) proc = await this.spare();
    if (this.closed) {
      if (proc instanceof SandboxProcess) proc.kill();
      resolve(closedResult(tests.length));
    } else if (proc instanceof Error) {
      resolve({ passed: 0, total: tests.length, failure: `the sandbox did not start: ${proc.message}`, severe: true });
    } else {
      resolve(await proc.run(code, tests));
    }
  }
}

function closedResult(total: number): JobResult {
  return { passed: 0, total, failure: 'the sandbox is closed', severe: true };
}
