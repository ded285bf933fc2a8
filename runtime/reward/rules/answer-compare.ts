/**
 * Comparing an extracted answer with the reference:
 *  - `exact`: equal strings after trimming whitespace at both ends;
 *  - `numeric`: both parse as numbers and differ by at most the absolute tolerance. Accepted forms:
 *    `42`, `-3.5`, `+.5`, `1e-3`, thousands separators `1,000,000`, fractions `3/4` and
 *    `\frac{3}{4}` (also `\dfrac`, `\tfrac`), optionally wrapped in `$…$` and followed by a period;
 *  - `choice`: both are one letter, optionally written `(B)`, `[B]`, `B)`, `B.` or `B:`, and the
 *    letters match ignoring case.
 * A reference that does not parse is a problem of the sample, so it throws (the item scores 0 and
 * is logged); an extracted answer that does not parse is simply wrong.
 */

export type Compare = 'exact' | 'numeric' | 'choice';

const DECIMAL = String.raw`[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?`;
const GROUPED = String.raw`[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?`;
const decimalOnly = new RegExp(`^(?:${DECIMAL}|${GROUPED})$`, 'i');
const fraction = new RegExp(`^(${DECIMAL})\\s*/\\s*(${DECIMAL})$`, 'i');
const latexFraction = /^(-?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$/;

/** The number a short answer states, or undefined. */
export function parseNumber(text: string): number | undefined {
  const s = text.trim().replace(/\.$/, '').trim().replace(/^\$(.*)\$$/s, '$1').trim();
  if (decimalOnly.test(s)) return Number(s.replaceAll(',', ''));
  const f = fraction.exec(s) ?? latexFraction.exec(s);
  if (!f) return undefined;
  const [num, den] = f.length === 4 ? [parseNumber(f[2]!), parseNumber(f[3]!)] : [Number(f[1]), Number(f[2])];
  if (num === undefined || den === undefined || den === 0) return undefined;
  return (f.length === 4 && f[1] === '-' ? -1 : 1) * (num / den);
}

/** The letter of a multiple-choice answer, upper-cased, or undefined. */
export function parseChoice(text: string): string | undefined {
  const m = /^[([]?\s*([A-Za-z])\s*[)\].:]?$/.exec(text.trim());
  return m ? m[1]!.toUpperCase() : undefined;
}

function referenceText(reference: unknown): string {
  if (typeof reference === 'string') return reference;
  if (typeof reference === 'number' || typeof reference === 'bigint') return String(reference);
  throw new Error(`the reference answer is a ${reference === null ? 'null' : typeof reference}, not a string or number`);
}

/** Whether `answer` matches `reference` under `compare`. */
export function answersMatch(compare: Compare, answer: string, reference: unknown, tolerance: number): boolean {
  const expected = referenceText(reference);
  switch (compare) {
    case 'exact':
      return answer.trim() === expected.trim();
    case 'numeric': {
      const want = typeof reference === 'number' ? reference : parseNumber(expected);
      if (want === undefined) throw new Error(`the reference answer ${JSON.stringify(expected)} is not a number`);
      const got = parseNumber(answer);
      return got !== undefined && Math.abs(got - want) <= tolerance;
    }
    case 'choice': {
      const want = parseChoice(expected);
      if (want === undefined) throw new Error(`the reference answer ${JSON.stringify(expected)} is not a letter choice`);
      return parseChoice(answer) === want;
    }
  }
}
