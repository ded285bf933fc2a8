/**
 * A stable topological order of named nodes: Kahn's algorithm, ties broken by first appearance, so
 * the order reads like the source (a plan's pipeline order; `moe run`'s targets).
 */
export function topologicalOrder(names: readonly string[], edges: readonly (readonly [string, string])[]): string[] {
  const unique = [...new Set(names)];
  const indegree = new Map(unique.map((n) => [n, 0]));
  for (const [, b] of edges) indegree.set(b, (indegree.get(b) ?? 0) + 1);
  const order: string[] = [];
  const ready = unique.filter((n) => indegree.get(n) === 0);
  while (ready.length > 0) {
    const n = ready.shift()!;
    order.push(n);
    for (const [a, b] of edges) {
      if (a !== n) continue;
      indegree.set(b, indegree.get(b)! - 1);
      if (indegree.get(b) === 0) ready.push(b);
    }
  }
  return order;
}
