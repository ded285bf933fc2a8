/** The messages between the parent and a sandbox worker (structured-cloned, plain data only). */

/** One program to run: the completion's code, then each test, within `timeoutMs` in total. */
export interface Job {
  readonly code: string;
  readonly tests: readonly string[];
  readonly timeoutMs: number;
}

export interface JobResult {
  readonly passed: number;
  readonly total: number;
  /** the first thing that went wrong (a throw while loading, a failed test, the time limit) */
  readonly failure?: string;
  /** a limit or a load-time throw: worth logging even when some tests passed */
  readonly severe?: boolean;
}

export type WorkerMessage = { readonly kind: 'ready' } | ({ readonly kind: 'done' } & JobResult);
