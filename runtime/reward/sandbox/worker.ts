/**
 * The parent's side of one sandbox process: a separate Node process, which is the kill boundary,
 * and which runs exactly one program. (Not a `worker_threads` Worker: a worker thread that makes one
 * allocation larger than its `resourceLimits` aborts the whole process, nodejs/node#47224. A child
 * process dies alone.) The process gets Node's permission model with nothing allowed (no file
 * system, no child processes, no worker threads, no addons), `--max-old-space-size` from the rule's
 * `memory`, no environment, and only the IPC channel: no stdin, stdout is dropped, stderr is kept
 * (its tail tells an out-of-memory abort from other crashes).
 *
 * `run` posts the job with a fresh nonce and settles once the process has closed: with the verdict
 * on its one well-formed report, or with what went wrong. A second message, a report without the
 * nonce or of the wrong shape, or a message before the job, is tampering: the program scores 0. The
 * wall-time limit (the process is killed when it has not closed `killAfterMs` after the job was
 * sent) catches what vm's own timeout cannot, like a promise loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Job, JobResult } from './protocol.js';
import { readReport, verdict } from './verdict.js';
import { workerSource } from './worker-main.js';

export interface Limits {
  readonly timeoutMs: number;
  readonly memoryBytes: number;
}

/** How long a job may take, all told, before the parent kills its process. */
export function killAfterMs(timeoutMs: number): number {
  return timeoutMs + Math.max(250, timeoutMs / 2);
}

/** V8 flags for the heap cap: the old generation from `memory` (at least 8 MiB), a small young generation. */
export function heapFlags(memoryBytes: number): string[] {
  const mb = Math.max(8, Math.floor(memoryBytes / 2 ** 20));
  return [`--max-old-space-size=${mb}`, `--max-semi-space-size=${Math.min(16, Math.max(1, Math.floor(mb / 8)))}`];
}

/**
 * Node's permission model with no `--allow-*` flag: `--permission` from Node 22.13/23.5 on,
 * `--experimental-permission` before (Node 20). A Node with neither gets none: the vm rules above
 * are the boundary then, and this is defence in depth.
 */
export function permissionFlags(allowed: ReadonlySet<string> = process.allowedNodeEnvironmentFlags): string[] {
  if (allowed.has('--permission')) return ['--permission'];
  if (allowed.has('--experimental-permission')) return ['--experimental-permission'];
  return [];
}

/** Every flag a sandbox process starts with (the tests start processes with the same ones). */
export function sandboxFlags(memoryBytes: number): string[] {
  return [...permissionFlags(), ...heapFlags(memoryBytes), '--disallow-code-generation-from-strings'];
}

/** Why a process ended, from its exit and the tail of its stderr. */
export function exitReason(code: number | null, signal: NodeJS.Signals | null, stderr: string, limits: Limits): string {
  if (/heap out of memory|Allocation failed|Invalid array length|Reached heap limit/i.test(stderr)) {
    return `exceeded the memory limit of ${Math.round(limits.memoryBytes / 2 ** 20)} MiB`;
  }
  return `the sandbox crashed (${signal ?? `exit code ${code}`})`;
}

const TAMPERED = 'the program tampered with the sandbox';

export class SandboxProcess {
  private stderr = '';
  private closed = false;
  private readonly messages: unknown[] = [];
  private job: Job | undefined;
  private timedOut = false;
  /** set while idle: a message now is tampering (no program has run yet, so something is wrong) */
  private spoiled: string | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private onClose: (() => void) | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly limits: Limits,
  ) {}

  /**
   * A process ready for its job (its start-up is not charged to the job's time limit). `source` is
   * the process's program: the sandbox's own, or in tests a stand-in that misbehaves on purpose.
   */
  static start(limits: Limits, source: string = workerSource()): Promise<SandboxProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...sandboxFlags(limits.memoryBytes), '-e', source], {
        env: {},
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'json',
      });
      const proc = new SandboxProcess(child, limits);
      child.stderr?.setEncoding('utf8').on('data', (t: string) => (proc.stderr = (proc.stderr + t).slice(-4096)));
      let ready = false;
      child.on('message', (m: unknown) => {
        if (ready) return proc.message(m);
        ready = true;
        const first = m as { kind?: unknown } | null;
        if (typeof first !== 'object' || first === null || first.kind !== 'ready' || Object.keys(first).length !== 1) {
          proc.kill();
          return reject(new Error('the sandbox sent an unexpected first message'));
        }
        proc.idle();
        resolve(proc);
      });
      child.on('exit', (code, signal) => (proc.exit = { code, signal }));
      child.on('close', () => {
        proc.closed = true;
        if (!ready) reject(new Error(`${exitReason(proc.exit?.code ?? null, proc.exit?.signal ?? null, proc.stderr, limits)}: ${proc.stderr.trim().split('\n').pop() ?? ''}`));
        proc.onClose?.();
      });
      child.on('error', (e) => {
        proc.kill();
        if (!ready) reject(e);
      });
    });
  }

  /** Whether the process can still take its job. */
  get usable(): boolean {
    return !this.closed && this.job === undefined && this.spoiled === undefined;
  }

  /** Runs the one program this process will ever run; never rejects. The process is gone afterwards. */
  run(code: string, tests: readonly string[]): Promise<JobResult> {
    const total = tests.length;
    if (!this.usable) return Promise.resolve({ passed: 0, total, failure: 'the sandbox process was used or is gone', severe: true });
    const job: Job = { kind: 'job', nonce: randomBytes(16).toString('hex'), code, tests, timeoutMs: this.limits.timeoutMs };
    this.job = job;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timedOut = true;
        this.kill();
      }, killAfterMs(this.limits.timeoutMs));
      this.onClose = () => {
        clearTimeout(timer);
        resolve(this.result(job, tests));
      };
      this.busy();
      this.child.send(job, (e) => {
        if (e) this.kill();
      });
    });
  }

  kill(): void {
    if (!this.closed) this.child.kill('SIGKILL');
  }

  private message(m: unknown): void {
    if (this.job === undefined) {
      this.spoiled = 'the sandbox sent a message while idle';
      this.kill();
      return;
    }
    this.messages.push(m);
    // one report is all a job gets: a second message is tampering, nothing more needs to be read
    if (this.messages.length > 1) this.kill();
  }

  /** The verdict once the process has closed, from everything it sent and how it ended. */
  private result(job: Job, tests: readonly string[]): JobResult {
    const total = tests.length;
    const failed = (failure: string): JobResult => ({ passed: 0, total, failure, severe: true });
    if (this.messages.length > 1) return failed(`${TAMPERED} (${this.messages.length} replies to one job)`);
    const report = this.messages.length === 1 ? readReport(this.messages[0], job.nonce, total) : undefined;
    if (typeof report === 'string') return failed(`${TAMPERED} (${report})`);
    if (this.timedOut) return failed(`timed out after ${this.limits.timeoutMs} ms (killed)`);
    const { code, signal } = this.exit ?? { code: null, signal: null };
    if (code !== 0 || signal !== null) return failed(exitReason(code, signal, this.stderr, this.limits));
    if (report === undefined) return failed('the sandbox exited without a report');
    return verdict(report, tests);
  }

  /** An idle process does not keep the parent alive. */
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
