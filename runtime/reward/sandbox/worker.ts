/**
 * The parent's side of one sandbox worker: a separate Node process, which is the kill boundary.
 * (Not a `worker_threads` Worker: a worker thread that makes one allocation larger than its
 * `resourceLimits` aborts the whole process, nodejs/node#47224 — `new Array(1e7)` under a 32 MiB cap
 * is enough. A child process dies alone.) The process gets `--max-old-space-size` from the rule's
 * `memory`, no environment, and only the IPC channel: no stdin, stdout is dropped, stderr is kept
 * (its tail tells an out-of-memory abort from other crashes).
 *
 * `run` posts one job and settles with its result, or with the limit the program hit: the wall-time
 * limit (the process is killed when the job is not back `killAfterMs` after the start, which catches
 * what vm's own timeout cannot, like a promise loop), the heap cap, or a crash. A worker that hit a
 * limit is dead; the pool replaces it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Job, JobResult, WorkerMessage } from './protocol.js';
import { workerSource } from './worker-main.js';

export interface Limits {
  readonly timeoutMs: number;
  readonly memoryBytes: number;
}

/** How long a job may take, all told, before the parent kills its worker. */
export function killAfterMs(timeoutMs: number): number {
  return timeoutMs + Math.max(250, timeoutMs / 2);
}

/** V8 flags for the heap cap: the old generation from `memory` (at least 8 MiB), a small young generation. */
export function heapFlags(memoryBytes: number): string[] {
  const mb = Math.max(8, Math.floor(memoryBytes / 2 ** 20));
  return [`--max-old-space-size=${mb}`, `--max-semi-space-size=${Math.min(16, Math.max(1, Math.floor(mb / 8)))}`];
}

/** Why a worker process ended, from its exit and the tail of its stderr. */
export function exitReason(code: number | null, signal: NodeJS.Signals | null, stderr: string, limits: Limits): string {
  if (/heap out of memory|Allocation failed|Invalid array length|Reached heap limit/i.test(stderr)) {
    return `exceeded the memory limit of ${Math.round(limits.memoryBytes / 2 ** 20)} MiB`;
  }
  return `the sandbox crashed (${signal ?? `exit code ${code}`})`;
}

export class SandboxWorker {
  private dead = false;
  private stderr = '';
  private settle: ((result: JobResult) => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly limits: Limits,
  ) {
    child.on('message', (m: WorkerMessage) => {
      if (m.kind === 'done') this.settle?.({ passed: m.passed, total: m.total, ...(m.failure === undefined ? {} : { failure: m.failure, severe: m.severe ?? false }) });
    });
    child.on('exit', (code, signal) => this.kill(exitReason(code, signal, this.stderr, limits)));
    child.on('error', (e) => this.kill(`the sandbox failed: ${e.message}`));
  }

  /** A worker ready for jobs (its start-up is not charged to any job's time limit). */
  static start(limits: Limits): Promise<SandboxWorker> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...heapFlags(limits.memoryBytes), '-e', workerSource()], {
        env: {},
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-4096)));
      const failed = (why: string): void => {
        child.kill('SIGKILL');
        reject(new Error(why));
      };
      child.once('error', (e) => failed(e.message));
      child.once('exit', (code, signal) => failed(`${exitReason(code, signal, stderr, limits)}: ${stderr.trim().split('\n').pop() ?? ''}`));
      child.once('message', (m: WorkerMessage) => {
        child.removeAllListeners();
        child.stderr?.removeAllListeners('data');
        if (m.kind !== 'ready') return failed(`unexpected first message ${m.kind}`);
        const worker = new SandboxWorker(child, limits);
        worker.stderr = stderr;
        child.stderr?.on('data', (t: string) => (worker.stderr = (worker.stderr + t).slice(-4096)));
        worker.idle();
        resolve(worker);
      });
    });
  }

  get alive(): boolean {
    return !this.dead;
  }

  run(job: Omit<Job, 'timeoutMs'>): Promise<JobResult> {
    if (this.dead || this.settle) return Promise.reject(new Error('sandbox worker is dead or busy'));
    const total = job.tests.length;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.kill(`timed out after ${this.limits.timeoutMs} ms (killed)`), killAfterMs(this.limits.timeoutMs));
      this.settle = (result) => {
        clearTimeout(timer);
        this.settle = undefined;
        this.idle();
        resolve(result.total === total ? result : { ...result, passed: Math.min(result.passed, total), total });
      };
      this.busy();
      this.child.send({ ...job, timeoutMs: this.limits.timeoutMs } satisfies Job);
    });
  }

  /** Marks the worker dead, settles its job (if any) with the reason, and kills the process. */
  kill(reason: string): void {
    if (!this.dead) this.child.kill('SIGKILL');
    this.dead = true;
    this.settle?.({ passed: 0, total: 0, failure: reason, severe: true });
  }

  /** An idle worker does not keep the parent alive. */
  private idle(): void {
    this.child.unref();
    this.child.channel?.unref();
    (this.child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  private busy(): void {
    this.child.ref();
    this.child.channel?.ref();
  }
}
