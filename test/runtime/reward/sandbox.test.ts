/**
 * Hostile programs: each one scores 0 with a logged reason, and the scorer keeps scoring the next
 * sample normally. Limits are small (400 ms, 32 MiB) so the whole file stays fast.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRewardScorer, type RewardScorer } from '../../../runtime/reward/index.js';
import { programOf, testsOf } from '../../../runtime/reward/sandbox/program.js';

const tests = ['add(2, 3) === 5', 'assert.equal(add(-1, 1), 0)'];
const good = 'function add(a, b) { return a + b; }';

let scorer: RewardScorer | undefined;
async function code(): Promise<RewardScorer> {
  scorer ??= await createRewardScorer(
    { normalize: false, rules: [{ name: 'code', weight: 1, kind: 'tests', language: 'js', tests_field: 'tests', timeout: 0.4, memory: 32 * 2 ** 20 }] },
    { specDir: '.', parallelism: 2 },
  );
  return scorer;
}
afterAll(() => scorer?.close());

/** Scores the hostile program, then a good one with the same scorer. */
async function hostile(program: string): Promise<{ score: number; reason: string | undefined; next: number }> {
  const s = await code();
  const bad = await s.score([{ completion: program, sample: { tests }, tokens: 1 }]);
  const after = await s.score([{ completion: good, sample: { tests }, tokens: 1 }]);
  expect(after.problems).toEqual([]);
  return { score: bad.total[0]!, reason: bad.problems.find((p) => p.rule === 'code' && p.index === 0)?.reason, next: after.total[0]! };
}

describe('the tests rule', () => {
  it('scores the share of tests passed', async () => {
    const s = await code();
    const result = await s.score([
      { completion: good, sample: { tests }, tokens: 1 },
      { completion: 'function add(a, b) { return a + b + (a < 0 ? 1 : 0); }', sample: { tests }, tokens: 1 },
      { completion: 'Here it is:\n```js\nconst add = (a, b) => a + b;\n```\n', sample: { tests }, tokens: 1 },
      { completion: 'function add() { return 7; }', sample: { tests }, tokens: 1 },
    ]);
    expect(result.total).toEqual([1, 0.5, 1, 0]);
    // a wrong answer that passes some tests is not a problem; one that passes none says why
    expect(result.problems).toEqual([{ rule: 'code', index: 3, reason: 'test 1 gave false, not true' }]);
  });

  it('does not let a program redefine assert', async () => {
    const s = await code();
    const result = await s.score([{ completion: 'assert = () => {}; assert.equal = () => {}; function add() { return 0; }', sample: { tests: ['assert.equal(add(1, 1), 2)'] }, tokens: 1 }]);
    expect(result.total).toEqual([0]);
  });

  it('logs a sample without tests', async () => {
    const s = await code();
    const result = await s.score([{ completion: good, sample: {}, tokens: 1 }]);
    expect(result.total).toEqual([0]);
    expect(result.problems[0]?.reason).toMatch(/no field `tests`/);
  });

  it('kills an infinite loop', async () => {
    const r = await hostile('while (true) {}');
    // vm's timeout normally reports first; on a starved machine the parent's kill may win
    expect(r).toEqual({ score: 0, reason: expect.stringMatching(/^timed out after 400 ms/), next: 1 });
  });

  it('kills a promise-job loop that the vm timeout alone would miss', async () => {
    const r = await hostile(`${good}\n(function spin() { Promise.resolve().then(spin); })();`);
    expect(r.score).toBe(0);
    expect(r.reason).toMatch(/timed out/);
    expect(r.next).toBe(1);
  });

  it('describes a thrown value inside the vm timeout: a hostile getter is stopped by it', async () => {
    const r = await hostile('function add() { throw { get message() { for (;;) {} } }; }');
    expect(r).toEqual({ score: 0, reason: 'timed out after 400 ms', next: 1 });
    // Node reads `.stack` of a thrown object after the timeout unless displayErrors is off
    const stack = await hostile('function add() { throw { get stack() { for (;;) {} } }; }');
    expect(stack).toEqual({ score: 0, reason: 'test 1 threw an object', next: 1 });
  });

  it('stops a memory bomb at the heap cap', async () => {
    const r = await hostile('const keep = []; for (;;) keep.push(new Array(1e6).fill(1));');
    expect(r).toEqual({ score: 0, reason: 'exceeded the memory limit of 32 MiB', next: 1 });
  });

  it('survives one allocation larger than the cap', async () => {
    const r = await hostile('while (1) new Array(1e7)');
    expect(r.score).toBe(0);
    expect(r.reason).toMatch(/memory limit|timed out/);
    expect(r.next).toBe(1);
  });

  it('has no memory outside the heap (ArrayBuffer, typed arrays, WebAssembly)', async () => {
    const r = await hostile('const keep = []; for (;;) keep.push(new ArrayBuffer(1e8));');
    expect(r).toEqual({ score: 0, reason: 'the program threw ReferenceError: ArrayBuffer is not defined', next: 1 });
    const wasm = await hostile('new WebAssembly.Memory({ initial: 60000 })');
    expect(wasm.reason).toMatch(/WebAssembly is not defined/);
  });

  it('turns deep recursion into a failed run', async () => {
    const r = await hostile('function down(n) { return down(n + 1) + 1; } down(0);');
    expect(r).toEqual({ score: 0, reason: 'the program threw RangeError: Maximum call stack size exceeded', next: 1 });
  });

  it.each([
    ['require', "require('fs').readFileSync('/etc/passwd', 'utf8')", /require is not defined/],
    ['process', "process.binding('fs')", /process is not defined/],
    ['the constructor chain', "this.constructor.constructor('return process')().mainModule.require('fs')", /Code generation from strings disallowed/],
    ['a function constructor', "(function () {}).constructor('return process')()", /Code generation from strings disallowed/],
    ['eval', "eval('1 + 1')", /Code generation from strings disallowed/],
    ['a socket', "require('net').connect(80, 'example.com')", /require is not defined/],
    ['fetch', "fetch('http://example.com')", /fetch is not defined/],
    ['timers', 'setTimeout(() => {}, 0)', /setTimeout is not defined/],
  ])('reaches nothing through %s', async (_, program, reason) => {
    const r = await hostile(program);
    expect(r.score).toBe(0);
    expect(r.reason).toMatch(reason);
    expect(r.next).toBe(1);
  });

  it('rejects dynamic import()', async () => {
    const program = "import('node:fs').then((fs) => { globalThis.leak = fs.readFileSync('/etc/passwd', 'utf8'); }, (e) => { globalThis.refused = String(e); });";
    const s = await code();
    const result = await s.score([{ completion: program, sample: { tests: ["typeof leak === 'string'", "typeof refused === 'string'"] }, tokens: 1 }]);
    expect(result.total).toEqual([0.5]);
  });

  it('sees a fresh context for every program', async () => {
    const s = await code();
    const result = await s.score([
      { completion: 'globalThis.shared = 1; Object.prototype.polluted = true;', sample: { tests: ['shared === 1'] }, tokens: 1 },
      { completion: '', sample: { tests: ["typeof shared === 'undefined'", '({}).polluted === undefined'] }, tokens: 1 },
    ]);
    expect(result.total).toEqual([1, 1]);
  });

  it('runs a batch with bounded parallelism and keeps the order', async () => {
    const s = await code();
    const items = Array.from({ length: 6 }, (_, i) => ({ completion: `function add() { return ${i % 2 ? 5 : 0}; }`, sample: { tests: ['add(2, 3) === 5'] }, tokens: 1 }));
    const result = await s.score(items);
    expect(result.total).toEqual([0, 1, 0, 1, 0, 1]);
  });
});

describe('programs and tests', () => {
  it('takes the last js fence, ignoring other languages', () => {
    expect(programOf('```js\nlet a = 1;\n```\ntext\n```javascript\nlet b = 2;\n```')).toBe('let b = 2;\n');
    expect(programOf('```python\nprint(1)\n```\nthen\n```\nlet c = 3;\n```')).toBe('let c = 3;\n');
    expect(programOf('```python\nprint(1)\n```')).toBe('```python\nprint(1)\n```');
    expect(programOf('let d = 4;')).toBe('let d = 4;');
  });

  // 256 KiB completions that made the old FENCE regex retry every backtick against the rest of the
  // text (114 s, 73 s and 42 s on Node 22); the scan finds the same blocks at once
  it('finds fences in 256 KiB of hostile backticks and unterminated fences', () => {
    const n = 256 * 1024;
    const block = '```js\nconst f = () => 5;\n```\n';
    expect(programOf(block + '`'.repeat(n))).toBe('const f = () => 5;\n');
    expect(programOf(block + '`'.repeat(n - 1) + '\n')).toBe('const f = () => 5;\n');
    const unclosed = '```js '.repeat(n / 6) + '\n';
    expect(programOf(unclosed)).toBe(unclosed);
    expect(programOf(`${'```\n```\n'.repeat(n / 8)}\`\`\`mjs\nlet last;\n\`\`\``)).toBe('let last;\n');
  });

  it('takes the same blocks as the fence regex it replaced', () => {
    // the old regex as the oracle, on short strings where it is fast
    const FENCE = /```([\w+-]*)[^\n]*\n([\s\S]*?)```/g;
    const oracle = (text: string): string => {
      let code: string | undefined;
      for (const m of text.matchAll(FENCE)) if (['', 'js', 'javascript', 'mjs'].includes(m[1]!.toLowerCase())) code = m[2];
      return code ?? text;
    };
    const alphabet = ['`', '`', '`', '\n', 'js', 'JS', 'py', ' ', 'x', '+', '-', 'mjs'];
    let seed = 7;
    const next = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: next(40) }, () => alphabet[next(alphabet.length)]).join('');
      expect(programOf(text), JSON.stringify(text)).toBe(oracle(text));
    }
  });

  it('accepts a string or an array of strings', () => {
    expect(testsOf('f() === 1', 'tests')).toEqual(['f() === 1']);
    expect(testsOf(['a', 'b'], 'tests')).toEqual(['a', 'b']);
    expect(() => testsOf([], 'tests')).toThrow(/no tests/);
    expect(() => testsOf([1], 'tests')).toThrow(/array of strings/);
  });
});
