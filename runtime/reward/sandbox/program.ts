/**
 * What the `tests` rule runs. The program is the completion's last fenced code block tagged `js`,
 * `javascript` or `mjs`, or untagged (models wrap code in Markdown fences); without a fence, the
 * whole completion. The tests are the sample's field: an array of strings, each a JavaScript
 * expression that must evaluate to exactly `true` (`add(2, 3) === 5`), or statements that call
 * `assert` and must not throw (`assert.equal(add(2, 3), 5)`), run one by one after the program in the
 * same context. A test that evaluates to `undefined` passes only when its own text calls `assert`:
 * otherwise `function isPrime(n) {}` would pass `isPrime(7)`. A single string is one test.
 */

// every fenced block, whatever its tag, so a closing fence is never taken for an opening one
const FENCE = /```([\w+-]*)[^\n]*\n([\s\S]*?)```/g;
const JS_TAGS = new Set(['', 'js', 'javascript', 'mjs']);

export function programOf(completion: string): string {
  let code: string | undefined;
  for (const m of completion.matchAll(FENCE)) if (JS_TAGS.has(m[1]!.toLowerCase())) code = m[2];
  return code ?? completion;
}

export function testsOf(value: unknown, field: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((t): t is string => typeof t === 'string')) {
    if (value.length === 0) throw new Error(`the sample's \`${field}\` holds no tests`);
    return value;
  }
  throw new Error(`the sample's \`${field}\` should be a string or an array of strings of JavaScript`);
}

/** Whether a test's own text (the dataset's, never the program's) calls `assert` or `assert.name`. */
export function callsAssert(test: string): boolean {
  return /(?<![\w$.])assert\s*(?:\.\s*[A-Za-z_$][\w$]*\s*)?\(/.test(test);
}
