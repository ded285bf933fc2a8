/**
 * `moe import hf`: a HF checkpoint folder (config.json + model.safetensors or shards, and its
 * tokenizer files when it has them) → an equivalent `.moe` spec and our checkpoint of it, the
 * tokenizer copied in.
 *
 * The spec is generated from config.json (hf-spec.ts) and compiled with the real compiler, so the
 * checkpoint's graph is exactly what `moe compile` makes of that spec. Every HF tensor must then
 * land on a parameter or state entry of the graph with the graph's shape, and every parameter must
 * be found, all decided from the safetensors headers before one tensor is read.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import type { CompilerHost } from '../../compiler/bind/program.js';
import { checkFile } from '../../compiler/check/index.js';
import { MAX_COUNT, MAX_LAYERS, MAX_TOKENS, MAX_VOCAB, MAX_WIDTH } from '../../compiler/schema/limits.js';
import { renderText } from '../../compiler/diagnostics/render.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { RuntimeError } from '../../runtime/errors.js';
import { readJsonFile } from '../../runtime/data/json-file.js';
import { TOKENIZER_FILE, readTokenizerFolder, tokenizerFromFiles, type ReadTokenizerFiles } from '../../runtime/data/tokenizer-files.js';
import { defaultMemoryLimit } from '../../runtime/model/params.js';
import { writeFileAtomic } from '../../runtime/io/atomic.js';
import { refuseIfTooBig, writeCheckpoint } from '../../runtime/io/checkpoint.js';
import { readHfArchitecture, type HfArchitecture, type HfJson } from './arch/index.js';
import { canonicalName, fusedExperts, isIgnorable } from './names.js';
import { IMPORT_MARK, specText, type CheckpointFacts } from './spec.js';
import { assemble, flatTensors, formatShape, mismatchError, sameShape } from '../../runtime/io/layout.js';
import { FLOAT_DTYPES, elementCount, type Dtype } from '../../runtime/io/safetensors.js';
import { openTensorSource, readSourceTensor, type TensorSource } from '../../runtime/io/shards.js';

export interface ImportOptions {
  /** the model block's name (default: from the HF folder's name) */
  readonly name?: string;
  /** where the spec goes (default: NAME.moe beside the checkpoint folder) */
  readonly spec?: string;
  /** refuse models whose float32 weights exceed this many bytes (default: defaultMemoryLimit()) */
  readonly limitBytes?: number;
}

/** The HF folder's tokenizer as copied into the checkpoint: none, or whether moe itself can read it. */
export type ImportedTokenizer = { readonly copied: false } | { readonly copied: true; readonly unreadable?: string };

export interface ImportResult {
  readonly model: string;
  readonly spec: string;
  readonly checkpoint: string;
  readonly tensors: number;
  readonly tokenizer: ImportedTokenizer;
}

/** A tensor of the IR's naming, and how to get its float32 values out of the HF files. */
interface Provider {
  /** the HF name(s) it comes from, for messages */
  readonly from: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly read: () => Float32Array;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['import', 'const', 'extends', 'true', 'false', 'none']);

export function isModelName(name: string): boolean {
  return IDENTIFIER.test(name) && !RESERVED.has(name);
}

/** `DeepSeek-V3` → `DeepSeekV3`, `tiny_hf` → `TinyHf`: the folder's name as a model name. */
export function modelNameFor(dir: string): string {
  const words = basename(resolve(dir)).split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (name === '') return 'Imported';
  return /^[0-9]/.test(name) ? `M${name}` : name;
}

function readConfig(dir: string): { json: HfJson; path: string } {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new RuntimeError(`${dir} is not a HF checkpoint: it has no config.json`);
  const json = readJsonFile(path, 'the HF config', 2 ** 20);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new RuntimeError(`${path} is not a JSON object`);
  checkConfigBounds(json as HfJson, path);
  return { json: json as HfJson, path };
}

/** The config.json keys that size the model, with the bound the spec's schema puts on the same number. */
const CONFIG_BOUNDS: Readonly<Record<string, number>> = {
  num_hidden_layers: MAX_LAYERS,
  num_nextn_predict_layers: MAX_LAYERS,
  first_k_dense_replace: MAX_LAYERS,
  vocab_size: MAX_VOCAB,
  max_position_embeddings: MAX_TOKENS,
  hidden_size: MAX_WIDTH,
  intermediate_size: MAX_WIDTH,
  moe_intermediate_size: MAX_WIDTH,
  shared_expert_intermediate_size: MAX_WIDTH,
  q_lora_rank: MAX_WIDTH,
  kv_lora_rank: MAX_WIDTH,
  qk_nope_head_dim: MAX_WIDTH,
  qk_rope_head_dim: MAX_WIDTH,
  v_head_dim: MAX_WIDTH,
  head_dim: MAX_WIDTH,
  num_attention_heads: MAX_COUNT,
  num_key_value_heads: MAX_COUNT,
  n_routed_experts: MAX_COUNT,
  num_local_experts: MAX_COUNT,
  n_shared_experts: MAX_COUNT,
  num_experts_per_tok: MAX_COUNT,
  n_group: MAX_COUNT,
  topk_group: MAX_COUNT,
};

/**
 * Refuses a config whose sizes exceed what a spec may state, before anything is built from them:
 * `num_hidden_layers: 1e9` once ran the importer out of memory after 2.5 GB. Whether a value is a
 * whole number is the architecture reader's question; this one only asks how large it is.
 */
function checkConfigBounds(json: HfJson, path: string): void {
  for (const [key, max] of Object.entries(CONFIG_BOUNDS)) {
    const value = json[key];
    if (typeof value === 'number' && value > max) throw new RuntimeError(`${path}: ${key} must be at most ${max}, found ${value}`, 'a `.moe` spec bounds the same number (docs/reference.md)');
  }
}

function floats(source: TensorSource, name: string): Float32Array {
  return readSourceTensor(source, name).data as Float32Array;
}

/** The fused layout's per-expert slices, reading the fused tensor once and dropping it after its last slice. */
function fusedProviders(source: TensorSource, hfName: string, prefix: string, kind: 'gate_up_proj' | 'down_proj'): [string, Provider][] {
  const { info } = source.tensors.get(hfName)!;
  const [experts, rows, cols] = info.shape;
  if (info.shape.length !== 3 || experts === undefined || rows === undefined || cols === undefined || (kind === 'gate_up_proj' && rows % 2 !== 0)) {
    throw new RuntimeError(`${info.name} has shape ${formatShape(info.shape)}; a fused ${kind} is [experts, ${kind === 'gate_up_proj' ? '2 × hidden, dim' : 'dim, hidden'}]`);
  }
  const parts = kind === 'gate_up_proj' ? ['gate_proj', 'up_proj'] : ['down_proj'];
  const shape = [rows / parts.length, cols];
  const size = elementCount(shape);
  let whole: Float32Array | undefined;
  let remaining = experts * parts.length;
  const slice = (offset: number): Float32Array => {
    whole ??= floats(source, hfName);
    const out = whole.slice(offset, offset + size);
    if (--remaining === 0) whole = undefined;
    return out;
  };
  const out: [string, Provider][] = [];
  for (let j = 0; j < experts; j++) {
    parts.forEach((part, p) => {
      const offset = (j * parts.length + p) * size;
      out.push([`${prefix}.${j}.${part}.weight`, { from: `${hfName}[${j}]`, dtype: info.dtype, shape, read: () => slice(offset) }]);
    });
  }
  return out;
}

/** Every tensor of the HF folder under its IR name. */
function providers(source: TensorSource): Map<string, Provider> {
  const out = new Map<string, Provider>();
  const add = (name: string, p: Provider): void => {
    const earlier = out.get(name);
    if (earlier) throw new RuntimeError(`${source.dir} holds ${name} twice: as ${earlier.from} and as ${p.from}`);
    out.set(name, p);
  };
  for (const [hfName, { info }] of source.tensors) {
    const fused = fusedExperts(hfName);
    if (fused) {
      for (const [name, p] of fusedProviders(source, hfName, fused.prefix, fused.kind)) add(name, p);
      continue;
    }
    add(canonicalName(hfName), { from: hfName, dtype: info.dtype, shape: info.shape, read: () => floats(source, hfName) });
  }
  return out;
}

/** The MTP modules whose tensors are there, up to what config.json announces. */
function mtpDepth(arch: HfArchitecture, names: ReadonlyMap<string, Provider>): number {
  let depth = 0;
  while (depth < arch.mtpLayers && names.has(`model.layers.${arch.layers + depth}.eh_proj.weight`)) depth++;
  return depth;
}

function hasRouterBias(arch: HfArchitecture, names: ReadonlyMap<string, Provider>): boolean {
  for (let i = 0; i < arch.layers; i++) if (!arch.denseLayers.includes(i) && names.has(`model.layers.${i}.mlp.gate.e_score_correction_bias`)) return true;
  return false;
}

/** An existing file at the spec's path is replaced only when an earlier import wrote it. */
function refuseForeignSpec(specPath: string): void {
  if (!existsSync(specPath)) return;
  const first = readFileSync(specPath, 'utf8').split('\n', 1)[0] ?? '';
  if (!first.includes(IMPORT_MARK)) {
    throw new RuntimeError(`${specPath} already exists and was not written by moe import`, 'import into another folder, or move that spec away');
  }
}

/** Checks and lowers the generated spec as if it were on disk at `specPath`. */
function compileSpec(specPath: string, text: string): GraphDocument {
  const host: CompilerHost = {
    readFile: (path) => (path === specPath ? new TextEncoder().encode(text) : nodeHost.readFile(path)),
    fileExists: (path) => path === specPath || nodeHost.fileExists(path),
  };
  const checked = checkFile(specPath, host);
  if (checked.errorCount > 0) {
    const rendered = checked.diagnostics.map((d) => renderText(d, checked.program.sources, { color: false, cwd: dirname(specPath) }));
    throw new RuntimeError(
      `the spec made from this config.json does not check:\n${rendered.join('\n\n')}`,
      'config.json describes a model the .moe language cannot express',
    );
  }
  return lowerSpec(checked, dirname(specPath));
}

/** Names, shapes and dtypes of every graph tensor against the HF tensors, before any is read. */
function matchTensors(model: ModelGraph, provided: ReadonlyMap<string, Provider>, ignorable: (name: string) => boolean, dir: string): void {
  const expected = new Map(flatTensors(model).map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const t of expected.values()) {
    const p = provided.get(t.name);
    if (!p) problems.push(`missing tensor ${t.name} ${formatShape(t.shape)}: the HF checkpoint does not have it`);
    else if (!sameShape(p.shape, t.shape)) problems.push(`tensor ${p.from} is ${formatShape(p.shape)}, the model expects ${formatShape(t.shape)} for ${t.name}`);
    else if (!FLOAT_DTYPES.includes(p.dtype)) problems.push(`tensor ${p.from} is ${p.dtype}; weights must be F32, F16 or BF16`);
  }
  for (const [name, p] of provided) {
    if (!expected.has(name) && !ignorable(name)) problems.push(`unmapped tensor ${p.from} ${formatShape(p.shape)}: no parameter of the model corresponds to it`);
  }
  if (problems.length > 0) throw mismatchError(`cannot import ${dir}: its tensors do not match its config.json`, problems);
}

/**
 * Whether moe can turn text into ids with the HF folder's tokenizer. It is copied either way (its
 * files belong with the weights, and `moe export hf` writes them back); one moe cannot read
 * (SentencePiece, WordPiece) is named, so `moe generate` needing `--ids` is no surprise.
 */
function readable(tokenizer: ReadTokenizerFiles): { unreadable?: string } {
  try {
    tokenizerFromFiles(tokenizer, TOKENIZER_FILE);
    return {};
  } catch (error) {
    if (error instanceof RuntimeError) return { unreadable: error.message };
    throw error;
  }
}

/** Imports a HF checkpoint folder: writes our checkpoint to `outDir` and the spec beside it. */
export function importHf(dir: string, outDir: string, options: ImportOptions = {}): ImportResult {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new RuntimeError(`no HF checkpoint at ${dir}: the folder does not exist`);
  const name = options.name ?? modelNameFor(dir);
  if (!isModelName(name)) throw new RuntimeError(`${JSON.stringify(name)} is not a valid model name (letters, digits and _, not starting with a digit)`);
  const config = readConfig(dir);
  const arch = readHfArchitecture(config.json, config.path);
  const source = openTensorSource(dir);
  const provided = providers(source);
  const facts: CheckpointFacts = { name, source: basename(resolve(dir)), hasBias: hasRouterBias(arch, provided), mtpDepth: mtpDepth(arch, provided) };
  const text = specText(arch, facts);
  const checkpoint = resolve(outDir);
  const specPath = resolve(options.spec ?? join(dirname(checkpoint), `${name}.moe`));
  refuseForeignSpec(specPath);
  const document = compileSpec(specPath, text);
  const model = document.models[0]!;
  const mtpLayers = Array.from({ length: facts.mtpDepth }, (_, k) => arch.layers + k);
  matchTensors(model, provided, (n) => isIgnorable(n, mtpLayers, arch.tied), dir);
  refuseIfTooBig(model, options.limitBytes ?? defaultMemoryLimit());
  const tokenizer = readTokenizerFolder(dir);
  const { params, state } = assemble(model, (t) => provided.get(t.name)!.read());
  writeCheckpoint(checkpoint, { document, model, params, state, ...(tokenizer && { tokenizer: tokenizer.files }) });
  writeFileAtomic(specPath, text);
  return { model: name, spec: specPath, checkpoint, tensors: flatTensors(model).length, tokenizer: tokenizer ? { copied: true, ...readable(tokenizer) } : { copied: false } };
}
