/**
 * Our checkpoint folder:
 *
 *   checkpoint.json    {"format": "moe-checkpoint", "version": 1, "model": NAME}
 *   graph.json         the IR document the weights belong to, as `moe compile` writes it
 *   model.safetensors  F32 tensors under HF names (stacked experts expanded, router bias as HF's buffer)
 *   config.json        the HF config, when a transformers family computes the model and names its
 *                      tensors as the IR does (deepseek_v2/v3, llama, qwen3_moe, olmoe); Mixtral and
 *                      Qwen2-MoE name them otherwise: `moe export hf` writes those
 *   tokenizer.json, tokenizer_config.json
 *                      the tokenizer the weights were trained with, as HF files (runtime/data/
 *                      tokenizer-files.ts), so the folder turns text into ids wherever it is copied
 *
 * With HF names and a config.json the folder is also a checkpoint HF can read. A folder is written
 * whole or not at all (runtime/io/atomic.ts), and reading checks everything — the graph (schema +
 * verifier), every tensor's name, shape and dtype, the memory it needs — before one tensor byte is
 * read, so a mismatch never half-loads a model.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAME_NAMES, hfConfig, hfConfigText } from '../../ir/hf-config/index.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { TokenizerFiles } from '../data/tokenizer.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, writeTokenizerFiles } from '../data/tokenizer-files.js';
import { loadGraph, modelOf } from '../load.js';
import { defaultMemoryLimit, modelBytes, type TensorData } from '../model/params.js';
import { writeFolderAtomic } from './atomic.js';
import { assemble, flatTensors, formatShape, mismatchError, runtimeShapes, shapeProblems, sliceOf, type FlatTensor } from './layout.js';
import { FLOAT_DTYPES, readSafetensorsHeader, readTensor, writeSafetensors, type Tensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'moe-checkpoint';
export const CHECKPOINT_VERSION = 1;
const FILES = {
  meta: 'checkpoint.json',
  graph: 'graph.json',
  weights: 'model.safetensors',
  config: 'config.json',
  tokenizer: TOKENIZER_FILE,
  tokenizerConfig: TOKENIZER_CONFIG_FILE,
} as const;

export interface CheckpointContents {
  readonly document: GraphDocument;
  /** the model (or its name) in `document` the tensors belong to */
  readonly model: string | ModelGraph;
  /** keyed by IR parameter name; stacked parameters as one [E, …shape] tensor */
  readonly params: ReadonlyMap<string, TensorData>;
  readonly state: ReadonlyMap<string, TensorData>;
  /** the tokenizer's HF files; absent only where no tokenizer is known (`moe init` of a spec without one) */
  readonly tokenizer?: TokenizerFiles;
}

export interface Checkpoint {
  readonly document: GraphDocument;
  readonly model: ModelGraph;
  readonly params: Map<string, TensorData>;
  readonly state: Map<string, TensorData>;
}

export interface ReadOptions {
  /** refuse models whose float32 weights exceed this many bytes (default: defaultMemoryLimit()) */
  readonly limitBytes?: number;
}

// ── writing ──────────────────────────────────────────────────────────────────────────────────────

/** The file tensors of a model, HF-named, F32 (slices of the runtime arrays, not copies). */
export function fileTensors(model: ModelGraph, params: ReadonlyMap<string, TensorData>, state: ReadonlyMap<string, TensorData>): [string, Tensor][] {
  return flatTensors(model).map((t) => {
    const source = (t.kind === 'param' ? params : state).get(t.key)!;
    return [t.name, { dtype: 'F32', shape: t.shape, data: sliceOf(t, source) }];
  });
}

/** Names and shapes against the graph; data lengths are the safetensors writer's to check. */
function checkContents(model: ModelGraph, params: ReadonlyMap<string, TensorData>, state: ReadonlyMap<string, TensorData>): void {
  const shapes = [...runtimeShapes(model)];
  const declared = (kind: 'param' | 'state'): Map<string, { shape: readonly number[] }> => new Map(shapes.filter(([, s]) => s.kind === kind));
  const problems = [...shapeProblems(declared('param'), params, 'the parameters given'), ...shapeProblems(declared('state'), state, 'the state given')];
  if (problems.length > 0) throw mismatchError(`cannot write a checkpoint of model ${model.name}`, problems);
}

/** Writes a checkpoint folder atomically: complete, or not there at all. */
export function writeCheckpoint(dir: string, contents: CheckpointContents): void {
  const model = typeof contents.model === 'string' ? modelOf(contents.document, contents.model) : contents.model;
  checkContents(model, contents.params, contents.state);
  const config = hfConfig(model);
  writeFolderAtomic(dir, Object.values(FILES), (temp) => {
    const meta = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, model: model.name };
    writeFileSync(join(temp, FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
    writeFileSync(join(temp, FILES.graph), `${JSON.stringify(contents.document, null, 1)}\n`);
    if (config.ok && SAME_NAMES.has(String(config.config.model_type))) writeFileSync(join(temp, FILES.config), hfConfigText({ ...config.config, torch_dtype: 'float32', dtype: 'float32' }));
    writeSafetensors(join(temp, FILES.weights), fileTensors(model, contents.params, contents.state));
    if (contents.tokenizer) writeTokenizerFiles(temp, contents.tokenizer);
  });
}

// ── reading ──────────────────────────────────────────────────────────────────────────────────────

function readMeta(dir: string): { model: string } {
  const path = join(dir, FILES.meta);
  if (!existsSync(path)) throw new RuntimeError(`${dir} is not a checkpoint: it has no ${FILES.meta}`);
  let meta: unknown;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RuntimeError(`${path} is not valid JSON (${(error as Error).message})`);
  }
  const m = meta as { format?: unknown; version?: unknown; model?: unknown } | null;
  if (m?.format !== CHECKPOINT_FORMAT) throw new RuntimeError(`${path}: format is ${JSON.stringify(m?.format)}, expected "${CHECKPOINT_FORMAT}"`);
  if (m.version !== CHECKPOINT_VERSION) {
    throw new RuntimeError(`${path}: checkpoint version ${JSON.stringify(m.version)} is not one this moe reads (version ${CHECKPOINT_VERSION})`);
  }
  if (typeof m.model !== 'string') throw new RuntimeError(`${path}: model must be the model's name`);
  return { model: m.model };
}

/** "1.5 GiB (1,610,612,736 bytes)": readable and exact. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const short = unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
  return unit === 0 ? short : `${short} (${bytes.toLocaleString('en-US')} bytes)`;
}

/** Refuses, before anything is allocated, a model whose float32 weights would not fit. */
export function refuseIfTooBig(model: ModelGraph, limitBytes: number): void {
  const bytes = modelBytes(model);
  if (bytes > limitBytes) {
    throw new RuntimeError(
      `model ${model.name} needs ${formatBytes(bytes)} for its float32 weights and state; the limit is ${formatBytes(limitBytes)}`,
      'use a machine with more memory, or set MOE_MEMORY_LIMIT (bytes) if you know it fits',
    );
  }
}

/** Every tensor's name, shape and dtype against the graph, from the header alone. */
function checkFile(model: ModelGraph, path: string, header: ReturnType<typeof readSafetensorsHeader>): FlatTensor[] {
  const flat = flatTensors(model);
  const expected = new Map(flat.map((t) => [t.name, t]));
  const problems = shapeProblems(expected, header.tensors, path);
  for (const info of header.tensors.values()) {
    if (!FLOAT_DTYPES.includes(info.dtype)) problems.push(`tensor ${info.name} ${formatShape(info.shape)} is ${info.dtype} in ${path}; weights must be F32, F16 or BF16`);
  }
  if (problems.length > 0) throw mismatchError(`${path} does not match model ${model.name} of its graph`, problems);
  return flat;
}

/**
 * Reads a checkpoint folder: the graph validated and verified, the tensors checked against it, the
 * memory checked, and only then the tensors read (stacked experts back into [E, …shape] arrays).
 */
export function readCheckpoint(dir: string, options: ReadOptions = {}): Checkpoint {
  if (!existsSync(dir)) throw new RuntimeError(`no checkpoint at ${dir}: the folder does not exist`);
  const meta = readMeta(dir);
  const graphPath = join(dir, FILES.graph);
  if (!existsSync(graphPath)) throw new RuntimeError(`${dir} is not a complete checkpoint: it has no ${FILES.graph}`);
  const document = loadGraph(graphPath);
  const model = modelOf(document, meta.model);
  const weightsPath = join(dir, FILES.weights);
  if (!existsSync(weightsPath)) throw new RuntimeError(`${dir} is not a complete checkpoint: it has no ${FILES.weights}`);
  const header = readSafetensorsHeader(weightsPath);
  checkFile(model, weightsPath, header);
  refuseIfTooBig(model, options.limitBytes ?? defaultMemoryLimit());
  const { params, state } = assemble(model, (t) => readTensor(header, t.name).data as Float32Array);
  return { document, model, params, state };
}
