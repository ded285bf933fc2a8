/** `moe import hf` and `moe export hf`: tiny synthetic HF folders → spec + checkpoint, and back. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../../compiler/bind/node-host.js';
import { checkFile } from '../../../compiler/check/index.js';
import { formatText } from '../../../compiler/syntax/format.js';
import { bf16ToF32, f32ToBf16 } from '../../../runtime/io/dtypes.js';
import { readCheckpoint, writeCheckpoint } from '../../../runtime/io/checkpoint.js';
import { exportHf } from '../../../interop/hf/export.js';
import { importHf, modelNameFor } from '../../../interop/hf/import.js';
import { canonicalName, mixtralName } from '../../../interop/hf/names.js';
import { readSafetensors, readSafetensorsHeader, type Tensor } from '../../../runtime/io/safetensors.js';
import type { TensorData } from '../../../runtime/model/params.js';
import { lateDenseCheckpoint, lowerExample, refusal, sameTensors, tempDir, tensorsFor, tinyDeepseekConfig, tinyDeepseekFolder, values, writeHfFolder } from './helpers.js';

/** The float32 values the HF file holds (BF16 tensors as the rounded values). */
function stored(t: Tensor): Float32Array {
  const data = t.data as Float32Array;
  return t.dtype === 'BF16' ? bf16ToF32(f32ToBf16(data)) : data;
}

/** Every HF tensor, except DeepSeek's MTP copies, equals the checkpoint tensor it became. */
function compareWithHf(hf: ReadonlyMap<string, Tensor>, params: ReadonlyMap<string, TensorData>, state: ReadonlyMap<string, TensorData>): string[] {
  const problems: string[] = [];
  for (const [name, t] of hf) {
    if (/^model\.layers\.\d+\.(embed_tokens|shared_head\.head)\.weight$/.test(name)) continue;
    const expert = /^(.*\.experts)\.(\d+)\.(.*)$/.exec(canonicalName(name));
    const key = expert ? `${expert[1]}.{j}.${expert[3]}` : canonicalName(name);
    const whole = params.get(key) ?? state.get(key);
    if (!whole) {
      problems.push(`${name}: not in the checkpoint`);
      continue;
    }
    const size = t.data.length;
    const ours = expert ? whole.data.subarray(Number(expert[2]) * size, (Number(expert[2]) + 1) * size) : whole.data;
    const theirs = stored(t);
    if (ours.length !== theirs.length || ours.some((v, i) => !Object.is(v, theirs[i]))) problems.push(`${name}: values differ`);
  }
  return problems;
}

function checkSpec(path: string): { errors: number; text: string } {
  const checked = checkFile(path, nodeHost);
  return { errors: checked.errorCount, text: readFileSync(path, 'utf8') };
}

describe('import of a tiny HF deepseek_v3 checkpoint', () => {
  it('with q_lora_rank, an MTP layer and non-zero router biases: a spec that checks and identical tensors', () => {
    const { dir, tensors } = tinyDeepseekFolder({ qLoraRank: 12, mtp: true });
    const out = join(tempDir(), 'ckpt');
    const result = importHf(dir, out, { name: 'Tiny' });
    expect(result).toEqual({ model: 'Tiny', spec: join(out, '..', 'Tiny.moe'), checkpoint: out, tensors: 97, tokenizer: { copied: false } });

    const spec = checkSpec(result.spec);
    expect(spec.errors).toBe(0);
    expect(formatText(result.spec, spec.text)).toEqual({ text: spec.text, changed: false });
    for (const line of ['q_rank = 12', 'kv_rank = 8', 'layers 0..0', 'layers 1..2', 'balance = bias { rate = 0.001 }', 'mtp { depth = 1, weight = 0.3 }', 'scale = 2.5', 'top_groups = 1', 'factor = 4', 'original_context = 32', 'mscale_all_dim = 1', 'eps = 1e-6']) {
      expect(spec.text).toContain(line);
    }

    const ckpt = readCheckpoint(out);
    expect(ckpt.model.name).toBe('Tiny');
    expect(ckpt.document.source).toBe('Tiny.moe');
    expect(ckpt.params.get('model.layers.3.mlp.experts.{j}.gate_proj.weight')!.shape).toEqual([4, 8, 16]);
    const bias = ckpt.state.get('model.layers.2.mlp.gate.e_score_correction_bias')!;
    expect(bias.data.some((v) => v !== 0)).toBe(true);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);
  });

  it('with q_lora_rank null, from shards, without MTP: q_rank = 0 and q_proj', () => {
    const { dir, tensors } = tinyDeepseekFolder({ qLoraRank: null, mtp: false, sharded: true, dtype: 'F32' });
    const out = join(tempDir(), 'ckpt');
    const result = importHf(dir, out, { name: 'NoQ' });
    const spec = checkSpec(result.spec);
    expect(spec.errors).toBe(0);
    expect(spec.text).toContain('q_rank = 0 // q_lora_rank (null: queries are not compressed)');
    expect(spec.text).not.toContain('mtp');
    const ckpt = readCheckpoint(out);
    expect(ckpt.params.has('model.layers.0.self_attn.q_proj.weight')).toBe(true);
    expect(ckpt.params.has('model.layers.0.self_attn.q_a_proj.weight')).toBe(false);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);
  });

  it('with tied embeddings and a stored copy of the head', () => {
    const { dir, tensors } = tinyDeepseekFolder({ qLoraRank: 12, mtp: true, tied: true });
    const out = join(tempDir(), 'ckpt');
    importHf(dir, out);
    const ckpt = readCheckpoint(out);
    expect(ckpt.params.has('lm_head.weight')).toBe(false);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);
  });

  it('reads transformers 5\'s rope_parameters, and a config announcing MTP whose tensors HF did not save', () => {
    const { dir, tensors } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    const { rope_scaling: _scaling, rope_theta: _theta, ...config } = tinyDeepseekConfig({ qLoraRank: 12, mtp: true });
    const ropeParameters = { rope_type: 'yarn', rope_theta: 50000, factor: 2, original_max_position_embeddings: 64, beta_fast: 16, beta_slow: 2, mscale: 1, mscale_all_dim: 0.5 };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, rope_parameters: ropeParameters }));
    const out = join(tempDir(), 'ckpt');
    const spec = checkSpec(importHf(dir, out, { name: 'V5' }).spec);
    expect(spec.errors).toBe(0);
    for (const line of ['theta = 50000', 'factor = 2', 'original_context = 64', 'beta_fast = 16', 'beta_slow = 2', 'mscale_all_dim = 0.5']) expect(spec.text).toContain(line);
    expect(spec.text).toContain('// num_nextn_predict_layers = 1, but the checkpoint has no MTP tensors: none here');
    expect(spec.text).not.toMatch(/^\s*mtp \{/m);
    const ckpt = readCheckpoint(out);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);
  });

  it('names the model after the folder', () => {
    expect(modelNameFor('/x/DeepSeek-V3')).toBe('DeepSeekV3');
    expect(modelNameFor('/x/tiny_hf-model')).toBe('TinyHfModel');
    expect(modelNameFor('/x/3b')).toBe('M3b');
  });

  it('reads transformers 5\'s fused expert layout (save_original_format=False)', () => {
    const { tensors } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false, dtype: 'F32' });
    const fused = new Map<string, Tensor>();
    for (const [name, t] of tensors) if (!/\.experts\.\d+\./.test(name)) fused.set(name, t);
    for (const layer of [1, 2]) {
      const p = `model.layers.${layer}.mlp.experts`;
      const get = (j: number, w: string): Float32Array => tensors.get(`${p}.${j}.${w}.weight`)!.data as Float32Array;
      const gateUp = new Float32Array(4 * 16 * 16);
      const down = new Float32Array(4 * 16 * 8);
      for (let j = 0; j < 4; j++) {
        gateUp.set(get(j, 'gate_proj'), j * 256);
        gateUp.set(get(j, 'up_proj'), j * 256 + 128);
        down.set(get(j, 'down_proj'), j * 128);
      }
      fused.set(`${p}.gate_up_proj`, { dtype: 'F32', shape: [4, 16, 16], data: gateUp });
      fused.set(`${p}.down_proj`, { dtype: 'F32', shape: [4, 16, 8], data: down });
    }
    const folder = tempDir();
    writeHfFolder(folder, tinyDeepseekConfig({ qLoraRank: 12, mtp: false }), [...fused]);
    const out = join(tempDir(), 'ckpt');
    importHf(folder, out);
    const ckpt = readCheckpoint(out);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);
  });
});

describe('import refusals', () => {
  it('a tensor missing, a tensor unmapped, a wrong shape: all named, nothing written', () => {
    const { dir, tensors } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false, dtype: 'F32' });
    tensors.delete('model.layers.1.mlp.experts.2.up_proj.weight');
    tensors.set('model.layers.1.mlp.mystery.weight', { dtype: 'F32', shape: [3], data: new Float32Array(3) });
    tensors.set('model.norm.weight', { dtype: 'F32', shape: [8], data: new Float32Array(8) });
    writeHfFolder(dir, tinyDeepseekConfig({ qLoraRank: 12, mtp: false }), [...tensors]);
    const parent = tempDir();
    const error = refusal(() => importHf(dir, join(parent, 'ckpt')));
    expect(error.message).toContain(`cannot import ${dir}: its tensors do not match its config.json`);
    expect(error.message).toContain('missing tensor model.layers.1.mlp.experts.2.up_proj.weight [8, 16]: the HF checkpoint does not have it');
    expect(error.message).toContain('unmapped tensor model.layers.1.mlp.mystery.weight [3]');
    expect(error.message).toContain('tensor model.norm.weight is [8], the model expects [16] for model.norm.weight');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('an unsupported model_type, rope type or attention bias', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    const config = tinyDeepseekConfig({ qLoraRank: 12, mtp: false });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
    const error = refusal(() => importHf(dir, join(tempDir(), 'c')));
    expect(error.message).toBe(`${join(dir, 'config.json')}: model_type "gpt2" is not supported`);
    expect(error.help).toBe('moe import hf reads deepseek_v2, deepseek_v3, mixtral, llama, qwen2_moe, qwen3_moe, olmoe checkpoints');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, rope_scaling: { type: 'dynamic', factor: 2 } }));
    expect(refusal(() => importHf(dir, join(tempDir(), 'c'))).message).toMatch(/rope type "dynamic" is not supported/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, attention_bias: true }));
    expect(refusal(() => importHf(dir, join(tempDir(), 'c'))).message).toMatch(/attention_bias = true is not supported/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 'wide' }));
    expect(refusal(() => importHf(dir, join(tempDir(), 'c'))).message).toMatch(/hidden_size must be a positive integer, found "wide"/);
  });

  it('a config the language cannot express comes back as the checker\'s diagnostics', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyDeepseekConfig({ qLoraRank: 12, mtp: false }), num_experts_per_tok: 3 }));
    const error = refusal(() => importHf(dir, join(tempDir(), 'c')));
    expect(error.message).toMatch(/^the spec made from this config.json does not check:\nerror\[MOE/);
  });

  it('a model over the memory limit, before reading a tensor', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    const parent = tempDir();
    const error = refusal(() => importHf(dir, join(parent, 'ckpt'), { limitBytes: 1000 }));
    expect(error.message).toMatch(/^model TinyHf\w* needs [\d.]+ KiB \([\d,]+ bytes\) for its float32 weights and state; the limit is 1000 bytes$/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('a spec file in the way that an import did not write', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    const parent = tempDir();
    writeFileSync(join(parent, 'Mine.moe'), 'model Mine {}\n');
    const error = refusal(() => importHf(dir, join(parent, 'ckpt'), { name: 'Mine' }));
    expect(error.message).toBe(`${join(parent, 'Mine.moe')} already exists and was not written by moe import`);
    expect(readdirSync(parent)).toEqual(['Mine.moe']);
    // a spec an earlier import wrote is replaced
    importHf(dir, join(parent, 'ckpt2'), { name: 'Again' });
    importHf(dir, join(parent, 'ckpt2'), { name: 'Again' });
    expect(readdirSync(parent).sort()).toEqual(['Again.moe', 'Mine.moe', 'ckpt2']);
  });

  it('a folder that is missing or has no config.json', () => {
    expect(refusal(() => importHf('/no/such/folder', join(tempDir(), 'c'))).message).toBe('no HF checkpoint at /no/such/folder: the folder does not exist');
    const empty = tempDir();
    expect(refusal(() => importHf(empty, join(tempDir(), 'c'))).message).toBe(`${empty} is not a HF checkpoint: it has no config.json`);
  });
});

describe('mixtral', () => {
  const config = {
    model_type: 'mixtral',
    architectures: ['MixtralForCausalLM'],
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 12,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    num_local_experts: 4,
    num_experts_per_tok: 2,
    router_aux_loss_coef: 0.01,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    rope_theta: 1e6,
    sliding_window: null,
    tie_word_embeddings: false,
  };
  function mixtralFolder(): { dir: string; tensors: Map<string, Tensor> } {
    const shapes: [string, number[]][] = [['model.embed_tokens.weight', [40, 16]], ['model.norm.weight', [16]], ['lm_head.weight', [40, 16]]];
    for (const i of [0, 1]) {
      const p = `model.layers.${i}`;
      shapes.push([`${p}.input_layernorm.weight`, [16]], [`${p}.post_attention_layernorm.weight`, [16]]);
      shapes.push([`${p}.self_attn.q_proj.weight`, [16, 16]], [`${p}.self_attn.k_proj.weight`, [8, 16]], [`${p}.self_attn.v_proj.weight`, [8, 16]], [`${p}.self_attn.o_proj.weight`, [16, 16]]);
      shapes.push([`${p}.block_sparse_moe.gate.weight`, [4, 16]]);
      for (let j = 0; j < 4; j++) {
        shapes.push([`${p}.block_sparse_moe.experts.${j}.w1.weight`, [12, 16]], [`${p}.block_sparse_moe.experts.${j}.w3.weight`, [12, 16]], [`${p}.block_sparse_moe.experts.${j}.w2.weight`, [16, 12]]);
      }
    }
    const tensors = new Map<string, Tensor>(shapes.map(([name, shape]) => [name, { dtype: 'BF16', shape, data: values(name, shape) }]));
    const dir = tempDir('mixtral-');
    writeHfFolder(dir, config, [...tensors]);
    return { dir, tensors };
  }

  it('maps block_sparse_moe and w1/w3/w2 onto gate/up/down, and exports the same names back', () => {
    expect(canonicalName('model.layers.3.block_sparse_moe.experts.5.w1.weight')).toBe('model.layers.3.mlp.experts.5.gate_proj.weight');
    expect(canonicalName('model.layers.3.block_sparse_moe.experts.5.w3.weight')).toBe('model.layers.3.mlp.experts.5.up_proj.weight');
    expect(canonicalName('model.layers.3.block_sparse_moe.experts.5.w2.weight')).toBe('model.layers.3.mlp.experts.5.down_proj.weight');
    expect(canonicalName('model.layers.3.block_sparse_moe.gate.weight')).toBe('model.layers.3.mlp.gate.weight');
    for (const n of ['model.layers.3.block_sparse_moe.experts.5.w2.weight', 'model.layers.0.block_sparse_moe.gate.weight', 'model.norm.weight']) {
      expect(mixtralName(canonicalName(n))).toBe(n);
    }
  });

  it('imports to a GQA spec that checks, and round-trips through export', () => {
    const { dir, tensors } = mixtralFolder();
    const out = join(tempDir(), 'ckpt');
    const result = importHf(dir, out, { name: 'TinyMixtral' });
    const spec = checkSpec(result.spec);
    expect(spec.errors).toBe(0);
    for (const line of ['attention gqa {', 'heads = 4 // num_attention_heads', 'kv_heads = 2 // num_key_value_heads', 'head_dim = 4 // head_dim']) expect(spec.text).toContain(line);
    expect(spec.text).toContain('aux_loss = batch { alpha = 0.02 }');
    // the written spec says the per-layer term is not HF's pooled objective
    expect(spec.text).toMatch(/HF pools all layers into one balance term, this is one term per layer\n\s*aux_loss = batch/);
    const ckpt = readCheckpoint(out);
    expect(compareWithHf(tensors, ckpt.params, ckpt.state)).toEqual([]);

    const exported = join(tempDir(), 'hf');
    expect(exportHf(out, exported).modelType).toBe('mixtral');
    const names = [...readSafetensorsHeader(join(exported, 'model.safetensors')).tensors.keys()];
    expect(names.sort()).toEqual([...tensors.keys()].sort());
    expect(JSON.parse(readFileSync(join(exported, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'mixtral', num_local_experts: 4, router_aux_loss_coef: 0.01 });
  });
});

describe('export', () => {
  const document = lowerExample('deepseek-tiny');
  const model = document.models[0]!;
  const original = tensorsFor(model);
  const checkpoint = (): string => {
    const dir = join(tempDir(), 'ckpt');
    writeCheckpoint(dir, { document, model, params: original.params, state: original.state });
    return dir;
  };

  it('writes config.json and model.safetensors with DeepSeek\'s names and MTP copies; import gives back identical tensors', () => {
    const hf = join(tempDir(), 'hf');
    const result = exportHf(checkpoint(), hf);
    expect(result).toMatchObject({ model: 'DeepSeekTiny', modelType: 'deepseek_v3' });
    expect(readdirSync(hf).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'deepseek_v3', num_nextn_predict_layers: 1, torch_dtype: 'float32', n_group: 4, topk_group: 2 });
    const { tensors, metadata } = readSafetensors(join(hf, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('model.layers.1.mlp.experts.0.gate_proj.weight')!.dtype).toBe('F32');
    expect(tensors.get('model.layers.4.embed_tokens.weight')!.data).toEqual(tensors.get('model.embed_tokens.weight')!.data);
    expect(tensors.get('model.layers.4.shared_head.head.weight')!.data).toEqual(tensors.get('lm_head.weight')!.data);

    const back = join(tempDir(), 'ckpt');
    importHf(hf, back, { name: 'DeepSeekTiny' });
    const imported = readCheckpoint(back);
    expect(sameTensors(imported.params, original.params)).toEqual([]);
    expect(sameTensors(imported.state, original.state)).toEqual([]);
    // the comparison does notice a difference
    const changed = new Map(original.params).set('model.norm.weight', { shape: [64], data: new Float32Array(64) });
    expect(sameTensors(imported.params, changed)).toEqual(['model.norm.weight: values differ']);
  });

  it('import → export → import is the identity on a HF deepseek_v3 folder', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: true });
    const first = join(tempDir(), 'a');
    importHf(dir, first);
    const hf = join(tempDir(), 'hf');
    exportHf(first, hf);
    const second = join(tempDir(), 'b');
    importHf(hf, second);
    const [a, b] = [readCheckpoint(first), readCheckpoint(second)];
    expect(sameTensors(b.params, a.params)).toEqual([]);
    expect(sameTensors(b.state, a.state)).toEqual([]);
  });

  it('--dtype bf16 rounds the weights to nearest even and keeps the router bias float32', () => {
    const hf = join(tempDir(), 'hf');
    exportHf(checkpoint(), hf, { dtype: 'bf16' });
    expect(JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'))).toMatchObject({ torch_dtype: 'bfloat16' });
    const header = readSafetensorsHeader(join(hf, 'model.safetensors'));
    expect(header.tensors.get('model.embed_tokens.weight')!.dtype).toBe('BF16');
    expect(header.tensors.get('model.layers.2.mlp.gate.e_score_correction_bias')!.dtype).toBe('F32');
    const back = join(tempDir(), 'ckpt');
    importHf(hf, back);
    const imported = readCheckpoint(back);
    const rounded = new Map([...original.params].map(([n, t]) => [n, { shape: t.shape, data: bf16ToF32(f32ToBf16(t.data)) }]));
    expect(sameTensors(imported.params, rounded)).toEqual([]);
    expect(sameTensors(imported.state, original.state)).toEqual([]);
  });

  it('a model HF cannot express is refused with the reason, and nothing is written', () => {
    const parent = tempDir();
    const dir = join(parent, 'ckpt');
    const late = lateDenseCheckpoint(dir);
    const error = refusal(() => exportHf(late, join(parent, 'hf')));
    expect(error.message).toBe('MOE7201: model Late cannot be exported to HF transformers: dense layers must be the first k layers for deepseek_v3 (layer 1 is dense after MoE layers)');
    expect(error.help).toMatch(/stays usable/);
    expect(existsSync(join(parent, 'hf'))).toBe(false);
  });
});
