/**
 * `moe export hf`: our checkpoint → a folder HF transformers loads: `config.json` (from the graph,
 * ir/hf-config/), `model.safetensors` under HF names, F32 or BF16, the checkpoint's tokenizer
 * files and a `generation_config.json` with its special ids. The family is the one whose
 * transformers code computes the same model (ir/hf-config/), its tensors under that family's
 * released names (names.ts; deepseek_v3 with DeepSeek's MTP layout, duplicates included,
 * specs/ir.md §7). A model no family computes is refused (MOE7201) before anything is written.
 * Written atomically.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfConfig, hfConfigText, type HfConfig } from '../../ir/hf-config/index.js';
import type { ModelGraph } from '../../ir/types.js';
import { RuntimeError } from '../../runtime/errors.js';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, readTokenizerFolder, tokenizerFromFiles, writeTokenizerFiles, type ReadTokenizerFiles } from '../../runtime/data/tokenizer-files.js';
import type { TensorData } from '../../runtime/model/params.js';
import { writeFolderAtomic } from '../../runtime/io/atomic.js';
import { readCheckpoint } from '../../runtime/io/checkpoint.js';
import { hfName } from './names.js';
import { modelStructure } from '../../ir/structure.js';
import { flatTensors, sliceOf } from '../../runtime/io/layout.js';
import { writeSafetensors, type Tensor } from '../../runtime/io/safetensors.js';

export type ExportDtype = 'f32' | 'bf16';
export const EXPORT_DTYPES: readonly ExportDtype[] = ['f32', 'bf16'];

export interface ExportOptions {
  /** the weights' dtype in the file (default f32, lossless) */
  readonly dtype?: ExportDtype;
  /** refuse models whose float32 weights exceed this many bytes (default: defaultMemoryLimit()) */
  readonly limitBytes?: number;
}

export interface ExportResult {
  readonly model: string;
  readonly dir: string;
  readonly modelType: string;
  readonly tensors: number;
}

const OWN_FILES = ['config.json', 'model.safetensors', 'generation_config.json', TOKENIZER_FILE, TOKENIZER_CONFIG_FILE];

/** The special ids HF's generate reads (generation_config.json), when moe can read the tokenizer. */
function specialIds(tokenizer: ReadTokenizerFiles | undefined): { bos_token_id: number; eos_token_id: number; pad_token_id: number } | Record<string, never> {
  if (!tokenizer) return {};
  try {
    const t = tokenizerFromFiles(tokenizer, TOKENIZER_FILE);
    return { bos_token_id: t.bos, eos_token_id: t.eos, pad_token_id: t.pad };
  } catch (error) {
    // a tokenizer moe cannot read (SentencePiece) is still written; HF reads its ids itself
    if (error instanceof RuntimeError) return {};
    throw error;
  }
}

/** The HF-named tensors of a model in the export dtype. */
function exportTensors(
  model: ModelGraph,
  params: ReadonlyMap<string, TensorData>,
  state: ReadonlyMap<string, TensorData>,
  dtype: ExportDtype,
  modelType: string,
): [string, Tensor][] {
  const weights = dtype === 'bf16' ? 'BF16' : 'F32';
  return flatTensors(model).map((t) => {
    const data = sliceOf(t, (t.kind === 'param' ? params : state).get(t.key)!);
    // the router bias stays float32 in every export, as in DeepSeek's releases: it only steers
    // selection, and its updates (γ = 1e-3) are below bf16's resolution around typical values
    return [hfName(modelType, t.name), { dtype: t.kind === 'state' ? 'F32' : weights, shape: t.shape, data }];
  });
}

/**
 * HF's Qwen2-MoE always has q/k/v biases (its config says `qkv_bias: true`, whatever older
 * transformers versions read): a model without them is written with zero ones, which compute the same.
 */
function zeroBiases(model: ModelGraph, dtype: ExportDtype): [string, Tensor][] {
  return modelStructure(model).layers.flatMap((l) => {
    if (l.attention.kind !== 'gqa' || l.features.qkvBias) return [];
    const { heads, kvHeads, headDim } = l.attention;
    const zeros = (n: number): Tensor => ({ dtype: dtype === 'bf16' ? 'BF16' : 'F32', shape: [n], data: new Float32Array(n) });
    const prefix = `model.layers.${l.index}.self_attn`;
    return [
      [`${prefix}.q_proj.bias`, zeros(heads * headDim)],
      [`${prefix}.k_proj.bias`, zeros(kvHeads * headDim)],
      [`${prefix}.v_proj.bias`, zeros(kvHeads * headDim)],
    ] as [string, Tensor][];
  });
}

/**
 * The coded refusal (MOE7201 of the diagnostics catalog; runtime/ and interop/ print a
 * RuntimeError's message as is, so the code is in it, as for the data errors of MOE71xx).
 */
export function notExportable(model: string, reason: string): RuntimeError {
  return new RuntimeError(`MOE7201: model ${model} cannot be exported to HF transformers: ${reason}`, '`moe explain MOE7201` says more; the checkpoint itself stays usable by moe');
}

/** DeepSeek's MTP layers carry copies of the shared embedding and head (specs/ir.md §7). */
function mtpCopies(tensors: readonly [string, Tensor][], layers: number, depth: number, tied: boolean): [string, Tensor][] {
  const byName = new Map(tensors);
  const embed = byName.get('model.embed_tokens.weight')!;
  const head = tied ? embed : byName.get('lm_head.weight')!;
  const out: [string, Tensor][] = [];
  for (let k = 0; k < depth; k++) out.push([`model.layers.${layers + k}.embed_tokens.weight`, embed], [`model.layers.${layers + k}.shared_head.head.weight`, head]);
  return out;
}

/** Exports a checkpoint folder as a HF checkpoint folder. */
export function exportHf(checkpointDir: string, outDir: string, options: ExportOptions = {}): ExportResult {
  const dtype = options.dtype ?? 'f32';
  if (!EXPORT_DTYPES.includes(dtype)) throw new RuntimeError(`unknown export dtype ${JSON.stringify(dtype)} (${EXPORT_DTYPES.join(', ')})`);
  const { model, params, state } = readCheckpoint(checkpointDir, { limitBytes: options.limitBytes });
  const result = hfConfig(model);
  if (!result.ok) throw notExportable(model.name, result.reason);
  const torchDtype = dtype === 'bf16' ? 'bfloat16' : 'float32';
  const tokenizer = readTokenizerFolder(checkpointDir);
  const ids = specialIds(tokenizer);
  const config: HfConfig = { ...result.config, ...ids, torch_dtype: torchDtype, dtype: torchDtype };
  const modelType = String(config.model_type);
  const tensors = exportTensors(model, params, state, dtype, modelType);
  if (modelType === 'qwen2_moe') tensors.push(...zeroBiases(model, dtype));
  const depth = typeof config.num_nextn_predict_layers === 'number' ? config.num_nextn_predict_layers : 0;
  if (depth > 0) tensors.push(...mtpCopies(tensors, Number(config.num_hidden_layers), depth, config.tie_word_embeddings === true));
  writeFolderAtomic(outDir, OWN_FILES, (temp) => {
    writeFileSync(join(temp, 'config.json'), hfConfigText(config));
    writeFileSync(join(temp, 'generation_config.json'), `${JSON.stringify(ids, null, 2)}\n`);
    writeSafetensors(join(temp, 'model.safetensors'), tensors, { format: 'pt' });
    if (tokenizer) writeTokenizerFiles(temp, tokenizer.files);
  });
  return { model: model.name, dir: outDir, modelType: String(config.model_type), tensors: tensors.length };
}
