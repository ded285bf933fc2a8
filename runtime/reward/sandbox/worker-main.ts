/**
 * The code a sandbox process runs. It is sent to the process as source text (`workerSource()`, run
 * with `node -e`), so that the same file works from TypeScript sources and from dist/; it must use
 * nothing from outside its own body (modules and the IPC channel arrive as arguments).
 *
 * One process runs one job, then exits. The job gets a fresh `vm` context whose global object has a
 * null prototype, no `require`, `process`, `import()` (no `importModuleDynamically`, so it rejects),
 * no code generation from strings (`eval`, `new Function`) or WebAssembly, and no ArrayBuffer, typed
 * arrays, WeakRef or FinalizationRegistry (their memory is outside the capped V8 heap, or their
 * callbacks would run outside the time limit). `microtaskMode: 'afterEvaluate'` runs the promise
 * jobs a script queues inside the same time limit.
 *
 * The rule that keeps the program in (docs/decisions/sandbox.md): no code the program controls ever
 * runs outside a vm timeout, and host code never reads a property of a value the program made.
 * - All host code is strict (the generated source starts with 'use strict'), so a sloppy getter's
 *   `.caller` or a stack frame's `getFunction()`/`getThis()` never yields a host function.
 * - `displayErrors: false`: with it on, Node reads `.stack` of a thrown object after the timeout has
 *   ended, so a getter or Proxy trap on it would run unbounded in the host.
 * - The host looks at a program value only through `typeof v`, `v === true` and `String(v)` of a
 *   non-symbol primitive. A thrown value is described by a describer the prelude defined inside the
 *   context (strict, from intrinsics captured before the program ran, held in a non-writable,
 *   non-configurable global): the host hands the value over through a prelude closure that only
 *   stores it, and runs a one-line script calling the describer under the job's timeout; only a
 *   string result is kept.
 * - A timeout is recognised by the clock (the deadline has passed), never by reading the error.
 * - The process exits when its parent goes away (IPC 'disconnect'); a busy process cannot see that
 *   event, but by the rule above it is busy only until the job's deadline.
 */
import type * as Vm from 'node:vm';
import type { Job, Report, TestReport, WorkerMessage } from './protocol.js';

/** The process around the worker: Node's IPC channel and process control. */
export interface Channel {
  /** the first job only: a process runs one program */
  onJob(handler: (job: Job) => void): void;
  /** sends, then calls `done` once the message is written */
  send(message: WorkerMessage, done: () => void): void;
  onParentGone(handler: () => void): void;
  onRejection(handler: () => void): void;
  exit(): void;
  /** a monotonic clock in milliseconds */
  now(): number;
}

/** The name of the context's describer (non-writable, non-configurable: a program cannot replace it). */
export const DESCRIBER = '__sandboxDescribe';

export function workerMain(vm: typeof Vm, channel: Channel, describer: string): void {
  // Runs in the context before the program; its completion value is `hold`, the host's only handle.
  const PRELUDE = `'use strict';
    for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Atomics', 'WebAssembly', 'Int8Array',
      'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array',
      'Float64Array', 'BigInt64Array', 'BigUint64Array', 'WeakRef', 'FinalizationRegistry']) delete globalThis[name];
    (() => {
      const define = Object.defineProperty, freeze = Object.freeze, isArray = Array.isArray, protoOf = Object.getPrototypeOf;
      const ownKeys = Reflect.ownKeys, descriptor = Object.getOwnPropertyDescriptor, hasOwn = Object.hasOwn, is = Object.is;
      const plainProtos = [Object.prototype, Array.prototype, null];
      const ErrorOf = Error;
      const fail = (message, fallback) => { throw new ErrorOf(message === undefined ? fallback : text(message)); };
      const assert = (ok, message) => { if (!ok) fail(message, 'assertion failed'); };
      assert.ok = assert;
      assert.equal = (a, b, message) => { if (!is(a, b)) fail(message, 'not equal'); };
      // Structural equality from intrinsics captured here, so nothing a program redefines (a toJSON on
      // Object.prototype, JSON.stringify, Array.prototype methods) takes part: the same primitive
      // (NaN equals NaN, +0 equals -0), or two plain arrays / plain objects (prototype Array.prototype,
      // Object.prototype or null, the same on both sides) whose own keys, symbols included, are the
      // same and whose data properties are deeply equal. A getter is never called (an accessor
      // property is unequal); any other object (a Date, a Map, a class instance) equals only itself;
      // depth is bounded at 64, so a cycle compares unequal.
      const plain = (v) => { const p = protoOf(v); return p === plainProtos[0] || p === plainProtos[1] || p === plainProtos[2]; };
      const deepEqual = (a, b, depth) => {
        if (a === b || (a !== a && b !== b)) return true;
        if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > 64) return false;
        if (isArray(a) !== isArray(b) || protoOf(a) !== protoOf(b) || !plain(a)) return false;
        const ka = ownKeys(a), kb = ownKeys(b);
        if (ka.length !== kb.length) return false;
        for (let i = 0; i < ka.length; i++) {
          const key = ka[i], da = descriptor(a, key), db = descriptor(b, key);
          // hasOwn: a descriptor inherits from Object.prototype, which the program may have given a 'value'
          if (da === undefined || db === undefined || !hasOwn(da, 'value') || !hasOwn(db, 'value')) return false;
          if (da.enumerable !== db.enumerable || !deepEqual(da.value, db.value, depth + 1)) return false;
        }
        return true;
      };
      assert.deepEqual = (a, b, message) => { if (!deepEqual(a, b, 0)) fail(message, 'not deeply equal'); };
      assert.throws = (f, message) => { try { f(); } catch { return; } fail(message, 'did not throw'); };
      define(globalThis, 'assert', { value: freeze(assert), writable: false, configurable: false });
      const quiet = () => undefined;
      globalThis.console = { log: quiet, info: quiet, warn: quiet, error: quiet, debug: quiet };
      // a value as text without calling into it (objects are only named)
      const text = (v) => typeof v === 'string' ? v : typeof v === 'symbol' ? 'a symbol'
        : typeof v === 'function' ? 'a function' : typeof v === 'object' && v !== null ? 'an object' : '' + v;
      let held;
      const describe = () => {
        const v = held;
        held = undefined;
        try {
          if ((typeof v !== 'object' || v === null) && typeof v !== 'function') return text(v);
          const message = v.message;
          if (message === undefined) return text(v);
          const name = v.name;
          return (name === undefined ? 'Error' : text(name)) + ': ' + text(message);
        } catch {
          return 'an unprintable value';
        }
      };
      define(globalThis, '${describer}', { value: describe, writable: false, configurable: false, enumerable: false });
      return (v) => { held = v; };
    })();`;

  /** A test's value as text, from `typeof` alone. */
  function valueText(v: unknown): string {
    const type = typeof v;
    if (type === 'string' || type === 'number' || type === 'boolean' || type === 'bigint') return String(v).slice(0, 300);
    if (v === null) return 'null';
    if (type === 'function') return 'a function';
    if (type === 'symbol') return 'a symbol';
    return 'an object';
  }

  function run(job: Job): Report {
    const deadline = channel.now() + job.timeoutMs;
    const limit = `timed out after ${job.timeoutMs} ms`;
    // vm's watchdog may fire up to a millisecond before the clock says the deadline has passed
    const timedOut = (): boolean => channel.now() >= deadline - 1;
    const context = vm.createContext(Object.create(null), {
      codeGeneration: { strings: false, wasm: false },
      microtaskMode: 'afterEvaluate',
    });
    const exec = (script: Vm.Script): unknown =>
      script.runInContext(context, { timeout: Math.max(1, Math.ceil(deadline - channel.now())), displayErrors: false });
    // a compile error is made by V8 in this realm, never by the program: its message is safe to read
    const compile = (source: string, filename: string): Vm.Script | string => {
      try {
        return new vm.Script(source, { filename });
      } catch (e) {
        return e instanceof SyntaxError ? `SyntaxError: ${e.message}`.slice(0, 300) : 'a script that does not compile';
      }
    };
    const hold = exec(new vm.Script(PRELUDE, { filename: 'prelude.js' })) as (v: unknown) => void;
    const describeScript = new vm.Script(`'use strict'; ${describer}()`, { filename: 'describe.js' });
    const describe = (thrown: unknown): string => {
      hold(thrown);
      try {
        const text = exec(describeScript);
        return typeof text === 'string' ? text.slice(0, 300) : 'an unprintable value';
      } catch {
        return 'an unprintable value';
      }
    };

    const tests: TestReport[] = [];
    const stopped = (): Report => ({ kind: 'report', nonce: job.nonce, tests, limit });
    let load: string | undefined;
    const program = compile(job.code, 'completion.js');
    if (typeof program === 'string') load = program;
    else {
      try {
        exec(program);
      } catch (e) {
        if (timedOut()) return stopped();
        load = describe(e);
        if (timedOut()) return stopped();
      }
    }
    for (let i = 0; i < job.tests.length; i++) {
      const test = compile(job.tests[i]!, `test-${i + 1}.js`);
      if (typeof test === 'string') {
        tests.push({ outcome: 'failed', detail: `threw ${test}` });
        continue;
      }
      let value: unknown;
      try {
        value = exec(test);
      } catch (e) {
        if (timedOut()) return stopped();
        const detail = `threw ${describe(e)}`;
        if (timedOut()) return stopped();
        tests.push({ outcome: 'failed', detail });
        continue;
      }
      if (value === true) tests.push({ outcome: 'true', detail: '' });
      else if (typeof value === 'undefined') tests.push({ outcome: 'undefined', detail: '' });
      else tests.push({ outcome: 'failed', detail: `gave ${valueText(value)}, not true` });
    }
    return { kind: 'report', nonce: job.nonce, tests, ...(load === undefined ? {} : { load }) };
  }

  channel.onParentGone(() => channel.exit());
  // a rejected promise the program never handled (`import()` rejects) must not kill the process;
  // the handler does not look at the reason
  channel.onRejection(() => undefined);
  channel.onJob((job) => {
    let report: Report;
    try {
      report = run(job);
    } catch {
      // nothing the program made is read here; the parent scores an empty report as a failed run
      report = { kind: 'report', nonce: job.nonce, tests: [], limit: 'the sandbox failed' };
    }
    channel.send(report, () => channel.exit());
  });
  channel.send({ kind: 'ready' }, () => undefined);
}

/**
 * The process's source text: strict, the function above applied to its modules. Run from
 * TypeScript sources (tsx, vitest), esbuild's keepNames wraps named inner functions in a
 * `__name(fn, "name")` helper defined outside the function; the identity stand-in keeps the text
 * self-contained.
 */
export function workerSource(): string {
  const channel = `{
    onJob: (h) => process.once('message', h),
    send: (m, done) => process.send(m, done),
    onParentGone: (h) => process.on('disconnect', h),
    onRejection: (h) => process.on('unhandledRejection', h),
    exit: () => process.exit(0),
    now: () => performance.now(),
  }`;
  return `'use strict';\nvar __name = (f) => f;\n(${workerMain.toString()})(require('node:vm'), ${channel}, ${JSON.stringify(DESCRIBER)});`;
}
