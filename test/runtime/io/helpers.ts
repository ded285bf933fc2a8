/** Fixtures for the weights-interchange tests: temp folders, r1-tiny's graph, tiny HF checkpoints. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import type { GraphDocument, ModelGraph } from '../../../ir/types.js';
import { lowerSpec } from '../../../compiler/lower/index.js';
import { initialValues, storedShape, type TensorData } from '../../../runtime/model/params.js';
import { normalArray, tensorSeed } from '../../../runtime/random.js';
import { writeCheckpoint } from '../../../runtime/io/checkpoint.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { writeSafetensors, type Dtype, type Tensor } from '../../../runtime/io/safetensors.js';

export const repo = join(import.meta.dirname, '..', '..', '..');

/** The RuntimeError `run` throws; the test fails if it throws anything else, or nothing. */
export function refusal(run: () => unknown): RuntimeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RuntimeError);
    return error as RuntimeError;
  }
  throw new Error('expected a refusal');
}

export function tempDir(prefix = 'moe-io-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function lowerExample(name: string): GraphDocument {
  const checked = checkFile(join(repo, 'examples', `${name}.moe`), nodeHost);
  return lowerSpec(checked, repo);
}

/** Deterministic, non-trivial values for every parameter and state entry (norms and biases included). */
export function tensorsFor(model: ModelGraph, seed = 7): { params: Map<string, TensorData>; state: Map<string, TensorData> } {
  const normal = { kind: 'normal', std: 0.5 } as const;
  const params = new Map<string, TensorData>();
  const state = new Map<string, TensorData>();
  for (const p of model.params) params.set(p.name, { shape: storedShape(p), data: initialValues(normal, storedShape(p), seed, p.name) });
  for (const s of model.state) state.set(s.name, { shape: [...s.shape], data: initialValues(normal, s.shape, seed, s.name) });
  return { params, state };
}

export function values(name: string, shape: readonly number[]): Float32Array {
  return normalArray(shape.reduce((a, b) => a * b, 1), 0.5, tensorSeed(3, name));
}

export interface TinyDeepseek {
  readonly qLoraRank: number | null;
  readonly mtp: boolean;
  readonly tied?: boolean;
  /** write the tensors in two shards with an index */
  readonly sharded?: boolean;
  /** weights dtype in the files (the router bias is always F32, as in DeepSeek's releases) */
  readonly dtype?: Dtype;
}

/** The config.json of a tiny deepseek_v3 model (two MoE layers after one dense layer). */
export function tinyDeepseekConfig(o: TinyDeepseek): Record<string, unknown> {
  return {
    architectures: ['DeepseekV3ForCausalLM'],
    model_type: 'deepseek_v3',
    vocab_size: 48,
    hidden_size: 16,
    intermediate_size: 40,
    moe_intermediate_size: 8,
    num_hidden_layers: 3,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    n_shared_experts: 1,
    n_routed_experts: 4,
    routed_scaling_factor: 2.5,
    kv_lora_rank: 8,
    q_lora_rank: o.qLoraRank,
    qk_rope_head_dim: 4,
    qk_nope_head_dim: 6,
    v_head_dim: 6,
    n_group: 2,
    topk_group: 1,
    num_experts_per_tok: 2,
    first_k_dense_replace: 1,
    norm_topk_prob: true,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: o.tied ?? false,
    rope_theta: 10000,
    rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 32, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    rope_interleave: true,
    initializer_range: 0.02,
    num_nextn_predict_layers: o.mtp ? 1 : 0,
    hidden_act: 'silu',
    attention_bias: false,
    torch_dtype: 'bfloat16',
  };
}

/** HF deepseek_v3 tensor names and shapes, written out from the HF module tree (not from our code). */
export function tinyDeepseekTensors(o: TinyDeepseek): [string, number[]][] {
  const [V, D, I, h, E, H, kv, rope, nope, v] = [48, 16, 40, 8, 4, 2, 8, 4, 6, 6];
  const out: [string, number[]][] = [['model.embed_tokens.weight', [V, D]]];
  const block = (i: number, moe: boolean): void => {
    const p = `model.layers.${i}`;
    out.push([`${p}.input_layernorm.weight`, [D]], [`${p}.post_attention_layernorm.weight`, [D]]);
    if (o.qLoraRank === null) out.push([`${p}.self_attn.q_proj.weight`, [H * (nope + rope), D]]);
    else {
      const q = o.qLoraRank;
      out.push([`${p}.self_attn.q_a_proj.weight`, [q, D]], [`${p}.self_attn.q_a_layernorm.weight`, [q]], [`${p}.self_attn.q_b_proj.weight`, [H * (nope + rope), q]]);
    }
    out.push(
      [`${p}.self_attn.kv_a_proj_with_mqa.weight`, [kv + rope, D]],
      [`${p}.self_attn.kv_a_layernorm.weight`, [kv]],
      [`${p}.self_attn.kv_b_proj.weight`, [H * (nope + v), kv]],
      [`${p}.self_attn.o_proj.weight`, [D, H * v]],
    );
    if (!moe) {
      out.push([`${p}.mlp.gate_proj.weight`, [I, D]], [`${p}.mlp.up_proj.weight`, [I, D]], [`${p}.mlp.down_proj.weight`, [D, I]]);
      return;
    }
    out.push([`${p}.mlp.gate.weight`, [E, D]], [`${p}.mlp.gate.e_score_correction_bias`, [E]]);
    for (let j = 0; j < E; j++) {
      out.push([`${p}.mlp.experts.${j}.gate_proj.weight`, [h, D]], [`${p}.mlp.experts.${j}.up_proj.weight`, [h, D]], [`${p}.mlp.experts.${j}.down_proj.weight`, [D, h]]);
    }
    out.push([`${p}.mlp.shared_experts.gate_proj.weight`, [h, D]], [`${p}.mlp.shared_experts.up_proj.weight`, [h, D]], [`${p}.mlp.shared_experts.down_proj.weight`, [D, h]]);
  };
  block(0, false);
  block(1, true);
  block(2, true);
  out.push(['model.norm.weight', [D]]);
  if (!o.tied) out.push(['lm_head.weight', [V, D]]);
  if (o.mtp) {
    out.push(['model.layers.3.embed_tokens.weight', [V, D]], ['model.layers.3.enorm.weight', [D]], ['model.layers.3.hnorm.weight', [D]]);
    out.push(['model.layers.3.eh_proj.weight', [D, 2 * D]], ['model.layers.3.shared_head.norm.weight', [D]], ['model.layers.3.shared_head.head.weight', [V, D]]);
    block(3, true);
  }
  return out;
}

/** A HF tensor's values: the MTP copies repeat the shared embedding and head, as in DeepSeek's files. */
function hfValues(name: string, shape: number[], tied: boolean): Float32Array {
  if (name.endsWith('.embed_tokens.weight')) return values('model.embed_tokens.weight', shape);
  if (name.endsWith('.shared_head.head.weight')) return values(tied ? 'model.embed_tokens.weight' : 'lm_head.weight', shape);
  return values(name, shape);
}

export function writeHfFolder(dir: string, config: Record<string, unknown>, tensors: [string, Tensor][], sharded = false): void {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  if (!sharded) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return;
  }
  const half = Math.ceil(tensors.length / 2);
  const shards = [tensors.slice(0, half), tensors.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), shard);
    for (const [name] of shard) weightMap[name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}

/** A tiny HF deepseek_v3 folder: config.json + safetensors, non-zero router biases, optional MTP layer. */
export function tinyDeepseekFolder(o: TinyDeepseek, dir = tempDir('tiny-hf-')): { dir: string; tensors: Map<string, Tensor> } {
  const tensors = new Map<string, Tensor>();
  for (const [name, shape] of tinyDeepseekTensors(o)) {
    const dtype = name.endsWith('e_score_correction_bias') ? 'F32' : (o.dtype ?? 'BF16');
    tensors.set(name, { dtype, shape, data: hfValues(name, shape, o.tied ?? false) });
  }
  writeHfFolder(dir, tinyDeepseekConfig(o), [...tensors], o.sharded);
  return { dir, tensors };
}

/** Bit-exact comparison of tensor maps (vitest's deep equality is slow on large typed arrays). */
export function sameTensors(actual: ReadonlyMap<string, TensorData>, expected: ReadonlyMap<string, TensorData>): string[] {
  const problems: string[] = [];
  const bytes = (t: TensorData): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if ([...actual.keys()].sort().join() !== [...expected.keys()].sort().join()) problems.push('the names differ');
  for (const [name, e] of expected) {
    const a = actual.get(name);
    if (!a) continue;
    if (a.shape.join() !== e.shape.join()) problems.push(`${name}: shape [${a.shape.join(', ')}] ≠ [${e.shape.join(', ')}]`);
    else if (!bytes(a).equals(bytes(e))) problems.push(`${name}: values differ`);
  }
  return problems;
}

/** A checkpoint of an MLA model with a dense layer after a MoE layer, which deepseek_v3 cannot express. */
export function lateDenseCheckpoint(dir: string): string {
  const specDir = tempDir();
  const spec = join(specDir, 'late.moe');
  writeFileSync(
    spec,
    `model Late {
  vocab = 32, dim = 16, layers = 2, context = 32
  attention mla { heads = 2, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
  layers 0..0 { moe { experts = 4, hidden = 8, top_k = 2 } }
  layers 1..1 { ffn swiglu { hidden = 32 } }
}
`,
  );
  const document = lowerSpec(checkFile(spec, nodeHost), specDir);
  const model = document.models[0]!;
  writeCheckpoint(dir, { document, model, ...tensorsFor(model) });
  return dir;
}
