/** Suggestions for unknown names: the known names closest by edit distance (graphql-js style). */

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      const cost = a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/** Known names within a distance proportional to the input's length, closest first (at most 3). */
export function closestNames(input: string, known: Iterable<string>): string[] {
  const threshold = Math.max(1, Math.floor(input.length * 0.4)) + 1;
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
