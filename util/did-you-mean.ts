/** Suggestions for unknown names: the known names closest by edit distance (graphql-js style). */

/**
 * Optimal-string-alignment distance, case-insensitive: insertions, deletions, substitutions and
 * transpositions of neighbours each cost 1 (so `mdoel` is one edit from `model`).
 */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const rows = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[x.length]![y.length]!;
}

/** Known names within a distance proportional to the input's length, closest first (at most 3). */
export function closestNames(input: string, known: Iterable<string>): string[] {
  // about one edit in three (at least one), so `reasn` finds `reason` but not `base`
  const threshold = Math.max(1, Math.floor(input.length / 3));
  const scored: [string, number][] = [];
  for (const name of known) {
    const d = editDistance(input, name);
    const prefix = name.startsWith(input) || input.startsWith(name);
    if (d <= threshold || (prefix && Math.min(input.length, name.length) >= 3)) scored.push([name, d]);
  }
  scored.sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));
  return scored.slice(0, 3).map(([name]) => name);
}

/** `did you mean `a`?` / `did you mean `a` or `b`?`, or undefined when nothing is close. */
export function didYouMean(input: string, known: Iterable<string>): string | undefined {
  const names = closestNames(input, known);
  if (names.length === 0) return undefined;
  const quoted = names.map((n) => `\`${n}\``);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
  return `did you mean ${list}?`;
}
