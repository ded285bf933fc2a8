/**
 * The emitters of `moe compile --emit ...`: each turns a graph document into files. NAME is the
 * spec's base name (`examples/deepseek-v3.moe` → `deepseek-v3`), MODEL a model's name, STAGE a
 * stage's name:
 *
 *   graph      NAME.graph.json      the IR document (JSON Schema-valid)
 *   ts         NAME.graph.ts        a TypeScript module exporting it with literal types
 *   dot        MODEL.dot            a Graphviz picture, one per model
 *   svg        MODEL.svg            the picture rendered (Graphviz in WebAssembly, no system install)
 *   hf-config  MODEL.config.json    a HF transformers config (the family that computes it), one per model
 *   megatron   STAGE.megatron.sh    a torchrun script for Megatron-Core, one per pretrain stage with a cluster
 *
 * An emitter returns its files or an error message; it never throws for a document the lowering
 * produced. `ts` and `svg` load their heavy dependency (the TypeScript compiler inside ts-morph,
 * the Graphviz WebAssembly) on first use, so the other emitters do not pay for it.
 */
import { validateGraph } from '../../ir/validate.js';
import type { GraphDocument } from '../../ir/types.js';
import { modelDot } from './dot.js';
import { emitHfConfigs } from '../../ir/hf-config/index.js';
import { emitMegatron } from './megatron.js';
import { specName } from '../../ir/structure.js';

export interface EmittedFile {
  /** a file name (no folder) */
  readonly name: string;
  readonly text: string;
}

export type EmitResult = { readonly files: readonly EmittedFile[] } | { readonly error: string };

/**
 * An emitter. `name` is the spec's base name used for NAME.graph.*; it defaults to the base name
 * of `doc.source`.
 */
export type Emitter = (doc: GraphDocument, name?: string) => EmitResult | Promise<EmitResult>;

export const EMITTER_NAMES = ['graph', 'ts', 'dot', 'svg', 'hf-config', 'megatron'] as const;
export type EmitterName = (typeof EMITTER_NAMES)[number];

export function isEmitterName(name: string): name is EmitterName {
  return (EMITTER_NAMES as readonly string[]).includes(name);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failure of the emitter itself (a graph it cannot read) as an error result. */
function guard<T>(run: () => { ok: true; files: T } | { ok: false; reason: string }): { ok: true; files: T } | { ok: false; reason: string } {
  try {
    return run();
  } catch (error) {
    return { ok: false, reason: message(error) };
  }
}

function graphJson(doc: GraphDocument, name = specName(doc.source)): EmitResult {
  const problems = validateGraph(doc);
  if (problems.length > 0) return { error: `the graph does not match its JSON Schema:\n${problems.join('\n')}` };
  return { files: [{ name: `${name}.graph.json`, text: `${JSON.stringify(doc, null, 1)}\n` }] };
}

async function typescript(doc: GraphDocument, name = specName(doc.source)): Promise<EmitResult> {
  const { graphModule } = await import('./typescript.js');
  return { files: [{ name: `${name}.graph.ts`, text: graphModule(doc, name) }] };
}

function dot(doc: GraphDocument): EmitResult {
  if (doc.models.length === 0) return { error: `${doc.source} declares no model to draw` };
  try {
    return { files: doc.models.map((m) => ({ name: `${m.name}.dot`, text: modelDot(m) })) };
  } catch (error) {
    return { error: `cannot draw the model: ${message(error)}` };
  }
}

async function svg(doc: GraphDocument): Promise<EmitResult> {
  const dots = dot(doc);
  if ('error' in dots) return dots;
  const { renderSvg } = await import('./svg.js');
  try {
    const files: EmittedFile[] = [];
    for (const f of dots.files) files.push({ name: f.name.replace(/\.dot$/, '.svg'), text: await renderSvg(f.text) });
    return { files };
  } catch (error) {
    return { error: `Graphviz could not render the picture: ${message(error)}` };
  }
}

function hfConfig(doc: GraphDocument): EmitResult {
  const result = guard(() => emitHfConfigs(doc));
  return result.ok ? { files: result.files } : { error: `cannot write a HF config: ${result.reason}` };
}

function megatron(doc: GraphDocument): EmitResult {
  const result = guard(() => emitMegatron(doc));
  return result.ok ? { files: result.files } : { error: `cannot write a Megatron script: ${result.reason}` };
}

export const EMITTERS: { readonly [K in EmitterName]: Emitter } = {
  graph: graphJson,
  ts: typescript,
  dot,
  svg,
  'hf-config': hfConfig,
  megatron,
};

/** Runs the named emitters in order; one that throws (a compiler bug) yields an error result. */
export async function emitAll(
  doc: GraphDocument,
  names: readonly EmitterName[],
  name?: string,
): Promise<{ readonly format: EmitterName; readonly result: EmitResult }[]> {
  const out: { format: EmitterName; result: EmitResult }[] = [];
  for (const format of names) {
    let result: EmitResult;
    try {
      result = await EMITTERS[format](doc, name);
    } catch (error) {
      result = { error: `${format}: ${message(error)}` };
    }
    out.push({ format, result });
  }
  return out;
}
