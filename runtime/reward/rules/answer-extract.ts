/**
 * Finding the answer in a completion: the first group of the rule's regular expression at its first
 * match, or, for `extract = "boxed"`, the content of the last `\boxed{…}` (the last, because models
 * often box intermediate results before the final one). Braces inside the box nest, so
 * `\boxed{\frac{3}{4}}` yields `\frac{3}{4}`; an unclosed box yields nothing.
 */

export type Extractor = (completion: string) => string | undefined;

/**
 * The content of the last balanced `\boxed{…}` (the one opened last), or undefined. One pass with a
 * stack of open braces: a brace's partner does not depend on what precedes it, so each `}` closes
 * the innermost open `{`, and a box is balanced when its own `{` is closed. (Scanning forward from
 * each `\boxed{` instead took O(n²): 3.3 s for 64 KiB of unclosed boxes.)
 */
export function lastBoxed(text: string): string | undefined {
  const open = '\\boxed{';
  /** for each open `{`: where its box's content starts, or -1 for a plain brace */
  const stack: number[] = [];
  let best: { start: number; end: number } | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(text.startsWith(open, i - open.length + 1) ? i + 1 : -1);
    else if (c === '}' && stack.length > 0) {
      const start = stack.pop()!;
      if (start >= 0 && (best === undefined || start > best.start)) best = { start, end: i };
    }
  }
  return best && text.slice(best.start, best.end);
}

/**
 * The longest completion a rule's regular expression is run on. V8 backtracks, so a pattern such
 * as `<answer>([\s\S]*?)</answer>` takes quadratic time on hostile text (0.75 s for 64 KiB of
 * `<answer>`); a longer completion scores 0 with a logged problem instead of stalling training.
 */
export const MAX_REGEX_CHARS = 65_536;

/** Refuses (as the item's problem) a completion too long for a regular expression. */
export function boundForRegex(completion: string): string {
  if (completion.length > MAX_REGEX_CHARS) {
    throw new Error(`the completion is ${completion.length} characters, over the ${MAX_REGEX_CHARS} a regular expression is run on`);
  }
  return completion;
}

/** `boxed`, or a regular expression (no flags, as the checker compiled it) whose first group is the answer. */
export function extractor(extract: string): Extractor {
  if (extract === 'boxed') return lastBoxed;
  const pattern = new RegExp(extract);
  return (completion) => {
    const match = pattern.exec(boundForRegex(completion));
    // a pattern without a group extracts its whole match
    return match ? (match.length > 1 ? match[1] : match[0]) : undefined;
  };
}
