/**
 * The messages between the parent and a sandbox process (JSON over Node's IPC channel, plain data
 * only). The child reports what each test evaluated to; the parent alone turns that report into a
 * score (verdict.ts), so nothing the program computes is ever a score.
 */

/** One program to run: the completion's code, then each test, within `timeoutMs` in total. */
export interface Job {
  readonly kind: 'job';
  /** a fresh random value per job: the one report the parent accepts echoes it */
  readonly nonce: string;
  readonly code: string;
  readonly tests: readonly string[];
  readonly timeoutMs: number;
}

/** What one test evaluated to: exactly `true`, `undefined` (statements), or anything else / a throw. */
export type TestOutcome = 'true' | 'undefined' | 'failed';

export interface TestReport {
  readonly outcome: TestOutcome;
  /** why it failed (`threw …`, `gave …, not true`); empty otherwise */
  readonly detail: string;
}

export interface Report {
  readonly kind: 'report';
  readonly nonce: string;
  /** one per test run, in order; fewer than the tests only when `limit` is set */
  readonly tests: readonly TestReport[];
  /** the program threw while loading: its description */
  readonly load?: string;
  /** the time limit stopped the run */
  readonly limit?: string;
}

export type WorkerMessage = { readonly kind: 'ready' } | Report;

/** The parent's verdict on one program. */
export interface JobResult {
  readonly passed: number;
  readonly total: number;
  /** the first thing that went wrong (a throw while loading, a failed test, the time limit) */
  readonly failure?: string;
  /** a limit, a load-time throw or tampering: worth logging even when some tests passed */
  readonly severe?: boolean;
}
