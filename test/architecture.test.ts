/**
 * Issue 16, "Borders": the import graph of the sources has no loop, and every import crosses the
 * layers downwards only:
 *
 *   util  <  ir  <  grammar, compiler  |  runtime  <  interop  |  report  <  cli
 *
 * (util/ imports nothing of ours; ir/ only util/; compiler/ and runtime/ never each other; interop/
 * may use both; report/, the plots of what a run wrote, runtime/, ir/ and util/; cli/ everything).
 * eslint.config.js states the layer rules too (`no-restricted-imports`), so an editor flags a wrong
 * import as it is typed; this test is what catches loops, since no import plugin is installed.
 *
 * Type-only imports count as edges, for loops and for layers alike: TypeScript erases them, so they
 * cannot break module evaluation order, but a file that types against another still depends on it
 * (a change there breaks it), and a layer that borrows another's types is coupled to it all the same.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const FOLDERS = ['util', 'ir', 'grammar', 'compiler', 'runtime', 'interop', 'report', 'cli'] as const;
type Layer = (typeof FOLDERS)[number];

/** What each top-level folder may import besides itself. */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  util: [],
  ir: ['util'],
  grammar: ['util'],
  compiler: ['grammar', 'ir', 'util'],
  runtime: ['ir', 'util'],
  interop: ['compiler', 'runtime', 'grammar', 'ir', 'util'],
  report: ['runtime', 'ir', 'util'],
  cli: ['interop', 'report', 'compiler', 'runtime', 'grammar', 'ir', 'util'],
};

type Graph = ReadonlyMap<string, readonly string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The relative module specifiers of a file: `import … from`, `export … from` (statements start a
 * line, so examples in doc comments do not count), side-effect `import '…'` and `import('…')`.
 */
function importSpecifiers(text: string): string[] {
  const patterns = [/^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((p) => [...text.matchAll(p)].map((m) => m[1]!)).filter((s) => s.startsWith('.'));
}

/** Repository-relative .ts path an import of `from` names (`./x.js` is the source `./x.ts`). */
function resolveImport(from: string, specifier: string): string {
  return posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts');
}

function importGraph(): Graph {
  const files = FOLDERS.flatMap((dir) => sourceFiles(dir));
  return new Map(files.map((file) => [file, importSpecifiers(readFileSync(join(ROOT, file), 'utf8')).map((s) => resolveImport(file, s))]));
}

/** Every import loop: the strongly connected components (Tarjan) with more than one file, or a self-import. */
function findCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

function layerOf(path: string): string {
  return path.split('/')[0]!;
}

/** `file → target` for every import that goes up or sideways across the layers. */
function layerViolations(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file) as Layer;
    for (const target of targets) {
      const to = layerOf(target);
      if (to !== from && !(MAY_IMPORT[from] as readonly string[]).includes(to)) problems.push(`${file} → ${target}`);
    }
  }
  return problems;
}

describe('the import graph', () => {
  const graph = importGraph();

  it('covers the source folders', () => {
    for (const dir of FOLDERS) expect([...graph.keys()].some((f) => layerOf(f) === dir), dir).toBe(true);
    expect(graph.get('runtime/stages/targets.ts')).toContain('util/topological-order.ts');
  });

  it('has no import loop', () => {
    expect(findCycles(graph).map((c) => c.join(' ↔ '))).toEqual([]);
  });

  it('imports only downwards: runtime/ never compiler/, ir/ only util/, util/ nothing of ours', () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  it('keeps the stages room on top: infer/ and rl/ import neither run/ nor stages/', () => {
    const back = [...graph].flatMap(([file, targets]) =>
      /^runtime\/(infer|rl)\//.test(file) ? targets.filter((t) => /^runtime\/(run|stages)\//.test(t)).map((t) => `${file} → ${t}`) : [],
    );
    expect(back).toEqual([]);
  });
});

describe('the checks themselves', () => {
  it('read imports, re-exports, side-effect and dynamic imports, multi-line ones too, but not doc comments', () => {
    const text = [
      "import { a,\n  b } from './a.js';",
      "import type { T } from '../ir/types.js';",
      "export { c } from './c.js';",
      "export * from './d.js';",
      "import './e.js';",
      "const f = await import('./f.js');",
      " * import { g } from './g.js';",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(importSpecifiers(text).sort()).toEqual(['../ir/types.js', './a.js', './c.js', './d.js', './e.js', './f.js']);
  });

  it('find a loop of two files and a self-import, and nothing in a chain', () => {
    const graph = new Map([
      ['runtime/a.ts', ['runtime/b.ts']],
      ['runtime/b.ts', ['runtime/a.ts', 'runtime/c.ts']],
      ['runtime/c.ts', ['runtime/c.ts']],
      ['runtime/d.ts', ['runtime/a.ts']],
    ]);
    expect(findCycles(graph)).toEqual([['runtime/c.ts'], ['runtime/a.ts', 'runtime/b.ts']]);
    expect(findCycles(new Map([['x.ts', ['y.ts']], ['y.ts', []]]))).toEqual([]);
  });

  it('flag runtime → compiler and ir → runtime, allow interop → compiler and runtime → ir', () => {
    const graph = new Map([
      ['runtime/io/x.ts', ['compiler/lower/plan.ts', 'ir/types.ts', 'util/files.ts']],
      ['ir/types.ts', ['runtime/errors.ts']],
      ['interop/hf/import.ts', ['compiler/check/index.ts', 'runtime/io/checkpoint.ts']],
    ]);
    expect(layerViolations(graph)).toEqual(['runtime/io/x.ts → compiler/lower/plan.ts', 'ir/types.ts → runtime/errors.ts']);
  });
});
