/**
 * Finding the answer in a completion: the first group of the rule's regular expression at its first
 * match, or, for `extract = "boxed"`, the content of the last `\boxed{…}` (the last, because models
 * often box intermediate results before the final one). Braces inside the box nest, so
 * `\boxed{\frac{3}{4}}` yields `\frac{3}{4}`; an unclosed box yields nothing.
 */

export type Extractor = (completion: string) => string | undefined;

/** The content of the last balanced `\boxed{…}`, or undefined. */
export function lastBoxed(text: string): string | undefined {
  const open = '\\boxed{';
  for (let at = text.lastIndexOf(open); at >= 0; at = at === 0 ? -1 : text.lastIndexOf(open, at - 1)) {
    const start = at + open.length;
    let depth = 1;
    for (let i = start; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) return text.slice(start, i);
    }
  }
  return undefined;
}

/** `boxed`, or a regular expression (no flags, as the checker compiled it) whose first group is the answer. */
export function extractor(extract: string): Extractor {
  if (extract === 'boxed') return lastBoxed;
  const pattern = new RegExp(extract);
  return (completion) => {
    const match = pattern.exec(completion);
    // a pattern without a group extracts its whole match
    return match ? (match.length > 1 ? match[1] : match[0]) : undefined;
  };
}
