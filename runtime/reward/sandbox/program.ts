/**
 * What the `tests` rule runs. The program is the completion's last fenced code block tagged `js`,
 * `javascript` or `mjs`, or untagged (models wrap code in Markdown fences); without a fence, the
 * whole completion. The tests are the sample's field: an array of strings, each a JavaScript
 * expression that must evaluate to exactly `true` (`add(2, 3) === 5`), or statements that call
 * `assert` and must not throw (`assert.equal(add(2, 3), 5)`), run one by one after the program in the
 * same context. A test that evaluates to `undefined` passes only when its own text calls `assert`:
 * otherwise `function isPrime(n) {}` would pass `isPrime(7)`. A single string is one test.
 */

const JS_TAGS = new Set(['', 'js', 'javascript', 'mjs']);
const FENCE = '```';
/** A fence's tag: the run of word characters, `+` and `-` right after the backticks. */
const isTagChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 43 || c === 45;

/**
 * Every fenced block, whatever its tag (so a closing fence is never taken for an opening one): an
 * opening ``` with a tag and the rest of its line, then the text up to the next ```. A scan, not a
 * regular expression, because completions are hostile: `/```([\w+-]*)[^\n]*\n([\s\S]*?)```/g`
 * retried every backtick against the rest of the text, quadratic in its length (measured with Node
 * 22 on 256 KiB: 262,144 backticks 114 s, the same ending in a newline 73 s, `"```js "` repeated and
 * never closed 42 s; this scan: under 1 ms each). It finds the same blocks: once an opening has no
 * newline or no closing fence after it, no later one has either, so the scan stops there.
 */
function* fencedBlocks(text: string): Generator<{ readonly tag: string; readonly code: string }> {
  let at = text.indexOf(FENCE);
  while (at !== -1) {
    let tagEnd = at + FENCE.length;
    while (tagEnd < text.length && isTagChar(text.charCodeAt(tagEnd))) tagEnd++;
    const newline = text.indexOf('\n', tagEnd);
    if (newline === -1) return;
    const close = text.indexOf(FENCE, newline + 1);
    if (close === -1) return;
    yield { tag: text.slice(at + FENCE.length, tagEnd), code: text.slice(newline + 1, close) };
    at = text.indexOf(FENCE, close + FENCE.length);
  }
}

export function programOf(completion: string): string {
  let code: string | undefined;
  for (const block of fencedBlocks(completion)) if (JS_TAGS.has(block.tag.toLowerCase())) code = block.code;
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
