/**
 * The sandbox process's own guarantees, apart from any program: the permission model stops code
 * that holds `process` itself, the parent accepts one well-formed report per job and treats anything
 * else as tampering, a report is scored only by the parent, and the process dies with its parent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { callsAssert } from '../../../runtime/reward/sandbox/program.js';
import { readReport, verdict } from '../../../runtime/reward/sandbox/verdict.js';
import { permissionFlags, SandboxProcess, sandboxFlags } from '../../../runtime/reward/sandbox/worker.js';

const limits = { timeoutMs: 1000, memoryBytes: 32 * 2 ** 20 };
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the sandbox process', () => {
  it('cannot write a file, spawn a process or start a worker even with full `process` access', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-perm-'));
    const attack = `'use strict';
      const out = [];
      const attempt = (f) => { try { f(); out.push('done'); } catch (e) { out.push(e.code ?? String(e)); } };
      attempt(() => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'written'))}, 'x'));
      attempt(() => require('node:child_process').execSync('touch ' + ${JSON.stringify(join(dir, 'spawned'))}));
      attempt(() => require('node:child_process').spawnSync('id'));
      attempt(() => new (require('node:worker_threads').Worker)('1', { eval: true }));
      attempt(() => require('node:fs').readFileSync('/etc/hostname'));
      attempt(() => Function('return 1')());
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, [...sandboxFlags(limits.memoryBytes), '-e', attack], { env: {}, encoding: 'utf8' });
    expect(JSON.parse(r.stdout) as string[]).toEqual([
      'ERR_ACCESS_DENIED',
      'ERR_ACCESS_DENIED',
      'ERR_ACCESS_DENIED',
      'ERR_ACCESS_DENIED',
      'ERR_ACCESS_DENIED',
      'EvalError: Code generation from strings disallowed for this context',
    ]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('uses --permission where Node has it, --experimental-permission on Node 20, none where neither exists', () => {
    expect(permissionFlags(new Set(['--permission', '--experimental-permission']))).toEqual(['--permission']);
    expect(permissionFlags(new Set(['--experimental-permission']))).toEqual(['--experimental-permission']);
    expect(permissionFlags(new Set())).toEqual([]);
    expect(permissionFlags().length).toBe(1);
  });

  /** A stand-in process that answers its job with `reply` (source text using `job`). */
  const standIn = (reply: string, idle = ''): string =>
    `'use strict'; process.send({ kind: 'ready' }); ${idle}
     process.once('message', (job) => { ${reply}; setTimeout(() => process.exit(0), 50); });`;
  const good = (job: string) => `{ kind: 'report', nonce: ${job}.nonce, tests: [{ outcome: 'true', detail: '' }] }`;

  it.each([
    ['one report', `process.send(${good('job')})`, { passed: 1, total: 1 }],
    ['two reports', `process.send(${good('job')}); process.send(${good('job')})`, /tampered with the sandbox \(2 replies to one job\)/],
    ['a forged reply before the real one', `process.send({ kind: 'done', passed: 1e9, total: -1 }); process.send(${good('job')})`, /tampered/],
    ['a report without the nonce', `process.send({ ...${good('job')}, nonce: 'guess' })`, /tampered with the sandbox \(a report without this job's nonce\)/],
    ['a report of the wrong length', `process.send({ ...${good('job')}, tests: [] })`, /tampered with the sandbox \(a report of 0 tests for 1\)/],
    ['a report with an extra field', `process.send({ ...${good('job')}, passed: 1 })`, /tampered with the sandbox \(a report with unknown fields\)/],
    ['the old protocol', `process.send({ kind: 'done', passed: 1, total: 1 })`, /tampered with the sandbox \(a message that is not a report\)/],
    ['no report', '', /the sandbox exited without a report/],
  ])('scores %s', async (_, reply, expected) => {
    const proc = await SandboxProcess.start(limits, standIn(reply));
    const result = await proc.run('', ['true']);
    if (expected instanceof RegExp) expect(result).toEqual({ passed: 0, total: 1, failure: expect.stringMatching(expected), severe: true });
    else expect(result).toEqual(expected);
  });

  it('does not run a job on a process that sent a message while idle', async () => {
    const proc = await SandboxProcess.start(limits, standIn(`process.send(${good('job')})`, "process.send({ kind: 'ready' });"));
    await new Promise((r) => setTimeout(r, 200));
    expect(proc.usable).toBe(false);
    expect(await proc.run('', ['true'])).toMatchObject({ passed: 0, severe: true });
  });

  it('dies with its parent, even while a hostile getter spins', { timeout: 30_000 }, async () => {
    const parent = join(mkdtempSync(join(tmpdir(), 'moe-parent-')), 'parent.mts');
    const script = `import { SandboxPool } from ${JSON.stringify(join(root, 'runtime/reward/sandbox/pool.ts'))};
      const pool = new SandboxPool({ timeoutMs: 3000, memoryBytes: 32 * 2 ** 20 }, 1);
      await pool.run('function add() { throw { get message() { for (;;) {} } }; }', ['add()']);`;
    writeFileSync(parent, script);
    const child = spawn(process.execPath, ['--import', 'tsx', parent], { cwd: root, stdio: 'ignore' });
    /** the parent's child processes (`node --import tsx` starts none of its own: they are sandboxes) */
    const kids = (): number[] =>
      readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
            return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(child.pid);
          } catch {
            return false;
          }
        })
        .map(Number);
    const running = (pid: number): boolean => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
      } catch {
        return false;
      }
    };
    // wait until the sandbox process runs the job (its getter spins), then kill the parent hard
    let sandboxes: number[] = [];
    for (let i = 0; i < 200 && sandboxes.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      sandboxes = kids();
    }
    expect(sandboxes.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGKILL');
    for (let i = 0; i < 160 && sandboxes.some(running); i++) await new Promise((r) => setTimeout(r, 50));
    expect(sandboxes.filter(running)).toEqual([]);
  });
});

describe('the verdict', () => {
  const nonce = 'n';
  const report = (tests: { outcome: string; detail: string }[], extra: object = {}) => ({ kind: 'report', nonce, tests, ...extra });

  it('counts true, and undefined only from a test that calls assert', () => {
    const tests = ['isPrime(7)', 'assert(isPrime(7))', 'isPrime(7);', 'f() === 1'];
    const r = readReport(report([{ outcome: 'true', detail: '' }, { outcome: 'undefined', detail: '' }, { outcome: 'undefined', detail: '' }, { outcome: 'failed', detail: 'gave 2, not true' }]), nonce, 4);
    expect(typeof r).toBe('object');
    expect(verdict(r as Exclude<typeof r, string>, tests)).toEqual({ passed: 2, total: 4, failure: 'test 3 gave undefined, not true (a test of statements must call assert)', severe: false });
  });

  it('recognises assert calls in the test text', () => {
    expect(['assert(x)', 'assert.equal(a, b)', 'assert . deepEqual (a, b)', 'if (x) assert(y)'].map(callsAssert)).toEqual([true, true, true, true]);
    expect(['x', 'myassert(x)', 'o.assert(x)', '"assert"', 'assertx(1)'].map(callsAssert)).toEqual([false, false, false, false, false]);
  });

  it('refuses anything but the exact shape', () => {
    const ok = [{ outcome: 'true', detail: '' }];
    expect(typeof readReport(report(ok), nonce, 1)).toBe('object');
    expect(readReport(report(ok), 'other', 1)).toMatch(/nonce/);
    expect(readReport(report([{ outcome: 'passed', detail: '' }]), nonce, 1)).toMatch(/malformed test/);
    expect(readReport(report([{ outcome: 'true', detail: 'x'.repeat(5000) }]), nonce, 1)).toMatch(/malformed test/);
    expect(readReport(report(ok, { load: 7 }), nonce, 1)).toMatch(/malformed field/);
    expect(readReport(report([]), nonce, 1)).toMatch(/0 tests for 1/);
    expect(typeof readReport(report([], { limit: 'timed out after 5 ms' }), nonce, 1)).toBe('object');
    expect(readReport([report(ok)], nonce, 1)).toMatch(/not a report/);
  });
});
