/**
 * `--emit ts`: a TypeScript module (`NAME.graph.ts`) generated with ts-morph that exports the graph
 * document with literal types, so code importing it is type-checked against the model:
 *
 *   export const graph = { ... } as const;
 *   export type ParamName = 'model.embed_tokens.weight' | ...;   // stacked: `{j}` name + `${number}` pattern
 *   export type ParamShapes = { 'model.embed_tokens.weight': readonly [320, 64]; ... };
 *   export type StageName = 'base' | ...;
 *
 * With several models the parameter types are per model: `R1TinyParamName`, `R1TinyParamShapes`.
 * The object literal is laid out by a small printer (short objects on one line); the declarations
 * around it are written with ts-morph's code writer.
 */
import type { CodeBlockWriter } from 'ts-morph';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { specName } from '../../ir/structure.js';

/**
 * ts-morph's code writer. It lives in `code-block-writer`, the ts-morph dependency that ts-morph
 * re-exports; loading it directly costs ~10 ms where loading ts-morph (the TypeScript compiler
 * inside) costs ~400 ms, most of `moe compile --emit ts`. Where that package cannot be resolved
 * on its own, ts-morph's re-export is used.
 */
const Writer: typeof CodeBlockWriter = await import('code-block-writer')
  .then((m: { default: typeof CodeBlockWriter }) => m.default)
  .catch(async () => (await import('ts-morph')).CodeBlockWriter);

const INLINE_WIDTH = 160;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A single-quoted TypeScript string literal. */
export function tsString(s: string): string {
  return `'${JSON.stringify(s).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

function key(k: string): string {
  return IDENTIFIER.test(k) ? k : tsString(k);
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return tsString(v);
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`cannot write ${v} into the graph module`);
  return String(v);
}

/** The value on one line, or undefined as soon as it would be longer than `budget`. */
function inline(v: unknown, budget: number): string | undefined {
  if (v === null || typeof v !== 'object') {
    const text = scalar(v);
    return text.length <= budget ? text : undefined;
  }
  const entries: [string | null, unknown][] = Array.isArray(v) ? v.map((x) => [null, x]) : Object.entries(v);
  if (entries.length === 0) return Array.isArray(v) ? '[]' : '{}';
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{ ', ' }'];
  const parts: string[] = [];
  let used = open.length + close.length;
  for (const [k, x] of entries) {
    const prefix = k === null ? '' : `${key(k)}: `;
    const text = inline(x, budget - used - prefix.length);
    if (text === undefined) return undefined;
    parts.push(prefix + text);
    used += prefix.length + text.length + 2;
    if (used - 2 > budget) return undefined;
  }
  return `${open}${parts.join(', ')}${close}`;
}

/** The value laid out: on one line when it fits in INLINE_WIDTH columns, else one entry per line. */
function literal(v: unknown, indent: string, out: string[]): void {
  const one = inline(v, Math.max(INLINE_WIDTH - indent.length, 40));
  if (one !== undefined || v === null || typeof v !== 'object') {
    out.push(one ?? scalar(v));
    return;
  }
  const inner = `${indent}  `;
  const entries: [string | null, unknown][] = Array.isArray(v) ? v.map((x) => [null, x]) : Object.entries(v);
  out.push(Array.isArray(v) ? '[\n' : '{\n');
  for (const [k, x] of entries) {
    out.push(inner);
    if (k !== null) out.push(`${key(k)}: `);
    literal(x, inner, out);
    out.push(',\n');
  }
  out.push(indent, Array.isArray(v) ? ']' : '}');
}

/** A JSON-like value as a TypeScript object literal. */
export function objectLiteral(v: unknown): string {
  const out: string[] = [];
  literal(v, '', out);
  return out.join('');
}

/** `model.layers.3.mlp.experts.{j}.gate_proj.weight` → `` `model.layers.3.mlp.experts.${number}.gate_proj.weight` `` */
function stackPattern(name: string): string {
  return `\`${name.replace(/[`\\$]/g, '\\$&').split('{j}').join('${number}')}\``;
}

function tuple(shape: readonly number[]): string {
  return `readonly [${shape.join(', ')}]`;
}

function docs(w: CodeBlockWriter, text: string): void {
  w.writeLine(`/** ${text} */`);
}

function union(w: CodeBlockWriter, name: string, members: readonly string[]): void {
  if (members.length <= 1) {
    w.writeLine(`export type ${name} = ${members[0] ?? 'never'};`);
    return;
  }
  w.writeLine(`export type ${name} =`);
  w.indent(() => {
    members.forEach((m, i) => w.writeLine(`| ${m}${i === members.length - 1 ? ';' : ''}`));
  });
}

function paramTypes(w: CodeBlockWriter, model: ModelGraph, prefix: string): void {
  const names: string[] = [];
  for (const p of model.params) {
    names.push(tsString(p.name));
    if (p.stack !== undefined) names.push(stackPattern(p.name));
  }
  const stacked = model.params.some((p) => p.stack !== undefined);
  w.blankLine();
  docs(
    w,
    `The ${model.params.length} trainable parameter entries of ${model.name} (HF deepseek_v3 names).` +
      (stacked ? ' A stacked entry (the routed experts of a layer) appears as its `{j}` template and as the pattern of its instances.' : ''),
  );
  union(w, `${prefix}ParamName`, names);
  w.blankLine();
  docs(w, `The shape of every parameter of ${model.name}, one tensor each (a stacked entry gives one expert's shape).`);
  w.write(`export type ${prefix}ParamShapes = `).inlineBlock(() => {
    for (const p of model.params) {
      w.writeLine(`readonly ${tsString(p.name)}: ${tuple(p.shape)};`);
      if (p.stack !== undefined) w.writeLine(`readonly [name: ${stackPattern(p.name)}]: ${tuple(p.shape)};`);
    }
  });
  w.write(';').newLine();
}

/**
 * The text of `NAME.graph.ts`. The declarations are written with ts-morph's code writer; the object
 * literal (~0.6 MB for the 671B model) is spliced in as laid out by `objectLiteral`. (Building the
 * module from ts-morph structures would parse it all back into a syntax tree, seconds of work that
 * nothing here needs.)
 */
export function graphModule(doc: GraphDocument, name = specName(doc.source)): string {
  const options = { indentNumberOfSpaces: 2, useSingleQuote: true, newLine: '\n' as const };
  const head = new Writer(options);
  head.writeLine(`// ${name}.graph.ts: generated by \`moe compile --emit ts\` from ${doc.source}. Do not edit; recompile the spec.`);
  head.blankLine();
  docs(head, `The execution graph of ${doc.source} (IR version ${doc.ir_version}); specs/ir.md gives the meaning of every op.`);
  const w = new Writer(options);
  docs(w, 'The literal type of `graph`.');
  w.writeLine('export type Graph = typeof graph;');
  w.blankLine();
  union(w, 'ModelName', doc.models.map((m) => tsString(m.name)));
  const single = doc.models.length === 1;
  for (const m of doc.models) paramTypes(w, m, single ? '' : m.name);
  w.blankLine();
  docs(w, 'The stages of the experiment plan.');
  union(w, 'StageName', doc.plan.stages.map((s) => tsString(s.name)));
  w.blankLine();
  union(w, 'PipelineName', doc.plan.pipelines.map((p) => tsString(p.name)));
  return `${head.toString()}export const graph = ${objectLiteral(doc)} as const;\n\n${w.toString()}`;
}
