/**
 * The code a sandbox worker process runs. It is sent to the process as source text
 * (`workerMain.toString()`, run with `node -e`), so that the same file works from TypeScript sources
 * and from dist/, and it must therefore use nothing from outside its own body: modules and the IPC
 * channel arrive as arguments, type imports are erased.
 *
 * Each job gets a fresh `vm` context whose global object has a null prototype (so
 * `this.constructor.constructor` reaches the context's own `Function`, not this realm's), no
 * `require`, `process`, `import()` (no `importModuleDynamically` callback is given, so it rejects),
 * no code generation from strings (`eval`, `new Function`) or WebAssembly, and no ArrayBuffer, typed
 * arrays or WebAssembly at all: their memory lives outside the V8 heap, which is the only memory
 * the worker's `resourceLimits` cap. `microtaskMode: 'afterEvaluate'` runs the promise jobs a script
 * queues inside the same time limit. Anything that still escapes the limits (a hostile getter on a
 * thrown object, a heap near its cap) is stopped by the parent terminating the worker.
 */
import type * as Vm from 'node:vm';
import type { Job, JobResult, WorkerMessage } from './protocol.js';

/** The worker's link to the parent: Node's IPC channel (`process.on('message')`, `process.send`). */
export interface Channel {
  onMessage(handler: (job: Job) => void): void;
  send(message: WorkerMessage): void;
  onRejection(handler: () => void): void;
}

export function workerMain(vm: typeof Vm, channel: Channel): void {
  const PRELUDE = `'use strict';
    for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Atomics', 'WebAssembly', 'Int8Array',
      'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array',
      'Float64Array', 'BigInt64Array', 'BigUint64Array', 'WeakRef', 'FinalizationRegistry']) delete globalThis[name];
    {
      const is = Object.is, stringify = JSON.stringify, define = Object.defineProperty, freeze = Object.freeze;
      const fail = (message, fallback) => { throw new Error(message === undefined ? fallback : String(message)); };
      const assert = (ok, message) => { if (!ok) fail(message, 'assertion failed'); };
      assert.ok = assert;
      assert.equal = (a, b, message) => { if (!is(a, b)) fail(message, 'not equal'); };
      assert.deepEqual = (a, b, message) => { if (stringify(a) !== stringify(b)) fail(message, 'not deeply equal'); };
      assert.throws = (f, message) => { try { f(); } catch { return; } fail(message, 'did not throw'); };
      define(globalThis, 'assert', { value: freeze(assert), writable: false, configurable: false });
      const quiet = () => undefined;
      globalThis.console = { log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet };
    }`;

  function describe(e: unknown): string {
    try {
      if (e !== null && typeof e === 'object' && 'message' in e) {
        const name = 'name' in e ? String(e.name) : 'Error';
        return `${name}: ${String(e.message)}`.slice(0, 300);
      }
      return String(e).slice(0, 300);
    } catch {
      return 'an unprintable value';
    }
  }

  function timedOut(e: unknown): boolean {
    try {
      return e !== null && typeof e === 'object' && 'code' in e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
    } catch {
      return false;
    }
  }

  function run(job: Job): JobResult {
    const total = job.tests.length;
    const deadline = Date.now() + job.timeoutMs;
    const limit = `timed out after ${job.timeoutMs} ms`;
    const context = vm.createContext(Object.create(null), {
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const exec = (source: string, filename: string): unknown =>
      new vm.Script(source, { filename }).runInContext(context, { timeout: Math.max(1, deadline - Date.now()) });
    exec(PRELUDE, 'prelude.js');
    let failure: string | undefined;
    let severe = false;
    try {
      exec(job.code, 'completion.js');
    } catch (e) {
      if (timedOut(e)) return { passed: 0, total, failure: limit, severe: true };
      failure = `the program threw ${describe(e)}`;
      severe = true;
    }
    let passed = 0;
    for (let i = 0; i < total; i++) {
      try {
        const value = exec(job.tests[i]!, `test-${i + 1}.js`);
        // a test is an expression that must be true, or statements (asserts) that must not throw
        if (value === true || value === undefined) passed++;
        else failure ??= `test ${i + 1} gave ${typeof value === 'object' ? 'an object' : describe(value)}, not true`;
      } catch (e) {
        if (timedOut(e)) return { passed, total, failure: limit, severe: true };
        failure ??= `test ${i + 1} threw ${describe(e)}`;
      }
    }
    return { passed, total, ...(failure === undefined ? {} : { failure, severe }) };
  }

  // a rejected promise the program never handled (`import()` rejects) must not kill the worker
  channel.onRejection(() => undefined);
  channel.onMessage((job) => {
    let reply: WorkerMessage;
    try {
      reply = { kind: 'done', ...run(job) };
    } catch (e) {
      reply = { kind: 'done', passed: 0, total: job.tests.length, failure: `the sandbox failed: ${describe(e)}`, severe: true };
    }
    channel.send(reply);
  });
  channel.send({ kind: 'ready' });
}

/**
 * The worker's source text: the function above applied to its modules. Run from TypeScript sources
 * (tsx, vitest), esbuild's keepNames wraps named inner functions in a `__name(fn, "name")` helper
 * defined outside the function; the identity stand-in keeps the text self-contained.
 */
export function workerSource(): string {
  const channel = `{ onMessage: (h) => process.on('message', h), send: (m) => process.send(m), onRejection: (h) => process.on('unhandledRejection', h) }`;
  return `var __name = (f) => f;\n(${workerMain.toString()})(require('node:vm'), ${channel});`;
}
