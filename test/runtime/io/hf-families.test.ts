/**
 * Export of issue 20's families, host-side (transformers is not on this machine; the GPU round
 * trip is bench/hf-export-check.sh): each reference checkpoint of bench/peer/make_hf_families.py
 * imported, exported with `moe export hf`, gives a config.json whose fields that decide the model
 * equal the ones transformers wrote, and importing the export back gives the same logits.
 * And the tokenizer travels: a checkpoint folder copied anywhere still generates text.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportHf } from '../../../interop/hf/export.js';
import { importHf } from '../../../interop/hf/import.js';
import { readCheckpoint } from '../../../runtime/io/checkpoint.js';
import { forward } from '../../../runtime/model/forward.js';
import { ParamStore } from '../../../runtime/model/params.js';
import { tf } from '../../../runtime/tf.js';
import { runCli } from '../../helpers.js';
import { useCpu } from '../gradcheck.js';

const reference = join(import.meta.dirname, '..', '..', 'reference', 'hf');
type Json = Record<string, unknown>;

const COMMON = ['model_type', 'architectures', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'max_position_embeddings', 'rms_norm_eps', 'tie_word_embeddings', 'hidden_act'];
/** The config.json fields that decide what each family computes. */
const FIELDS: Record<string, string[]> = {
  'deepseek-v2-micro': ['intermediate_size', 'moe_intermediate_size', 'n_shared_experts', 'n_routed_experts', 'num_experts_per_tok', 'routed_scaling_factor', 'n_group', 'topk_group', 'topk_method', 'first_k_dense_replace', 'q_lora_rank', 'kv_lora_rank', 'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'head_dim', 'attention_bias', 'mlp_bias'],
  'deepseek-v3-micro': ['intermediate_size', 'moe_intermediate_size', 'n_shared_experts', 'n_routed_experts', 'num_experts_per_tok', 'routed_scaling_factor', 'n_group', 'topk_group', 'norm_topk_prob', 'first_k_dense_replace', 'q_lora_rank', 'kv_lora_rank', 'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'head_dim', 'rope_interleave'],
  'llama-micro': ['intermediate_size', 'head_dim', 'attention_bias', 'mlp_bias'],
  'mixtral-micro': ['intermediate_size', 'num_local_experts', 'num_experts_per_tok', 'sliding_window'],
  // (no intermediate_size: it sizes dense layers, and this model has none; no num_nextn_predict_layers
  // for deepseek_v3: transformers saves no MTP tensors, so the imported model has none)
  // qwen2-moe-micro's shared expert is 24 wide beside experts 16 wide: `shared_hidden`
  'qwen2-moe-micro': ['moe_intermediate_size', 'shared_expert_intermediate_size', 'num_experts', 'num_experts_per_tok', 'norm_topk_prob', 'mlp_only_layers', 'decoder_sparse_step', 'qkv_bias', 'use_sliding_window', 'layer_types'],
  // layer 0 sliding (window 5), layer 1 full, as layer_types says (what transformers 5 reads). No
  // max_window_layers: no value of it (sliding from that layer on) slides layer 0 alone; the fixture's
  // 1 is what bench/peer/make_hf_families.py passed, ours is the first sliding layer
  'qwen2-moe-sliding-micro': ['moe_intermediate_size', 'shared_expert_intermediate_size', 'num_experts', 'num_experts_per_tok', 'norm_topk_prob', 'mlp_only_layers', 'decoder_sparse_step', 'qkv_bias', 'use_sliding_window', 'sliding_window', 'layer_types'],
  'qwen3-moe-micro': ['moe_intermediate_size', 'num_local_experts', 'num_experts_per_tok', 'norm_topk_prob', 'mlp_only_layers', 'head_dim', 'attention_bias', 'sliding_window'],
  'olmoe-micro': ['intermediate_size', 'num_experts', 'num_experts_per_tok', 'norm_topk_prob', 'attention_bias', 'clip_qkv'],
};

/** The rotary settings as transformers 5 states them, from either spelling. */
function rope(c: Json): Json {
  const p = (c.rope_parameters ?? c.rope_scaling ?? {}) as Json;
  const type = p.rope_type ?? p.type ?? 'default';
  const { rope_theta: theta, type: _t, rope_type: _r, ...rest } = p;
  return { theta: theta ?? c.rope_theta, type, ...(type === 'default' ? {} : rest) };
}

/** head_dim null means hidden_size / heads. */
function headDim(c: Json): number {
  return (c.head_dim as number | null) ?? (c.hidden_size as number) / (c.num_attention_heads as number);
}

function logitsOf(dir: string, ids: number[][]): Float32Array {
  const { model, params, state } = readCheckpoint(dir);
  const store = ParamStore.fromTensors(model, params, state);
  const input = tf.tensor2d(ids, [ids.length, ids[0]!.length], 'int32');
  const out = forward(model, store, { inputIds: input }, ['logits']).get('logits')!;
  const values = out.dataSync() as Float32Array;
  out.dispose();
  input.dispose();
  store.dispose();
  return values;
}

describe('moe export hf of each family', () => {
  beforeAll(useCpu);

  for (const name of Object.keys(FIELDS)) {
    it(`${name}: config.json as transformers wrote it, and the export imports back to the same logits`, () => {
      const work = mkdtempSync(join(tmpdir(), 'moe-families-'));
      importHf(join(reference, name), join(work, 'ck'));
      exportHf(join(work, 'ck'), join(work, 'hf'));
      const theirs = JSON.parse(readFileSync(join(reference, name, 'config.json'), 'utf8')) as Json;
      const ours = JSON.parse(readFileSync(join(work, 'hf', 'config.json'), 'utf8')) as Json;
      for (const key of [...COMMON, ...FIELDS[name]!]) {
        const value = key === 'head_dim' && !('qk_rope_head_dim' in theirs) ? [headDim(ours), headDim(theirs)] : [ours[key], theirs[key]];
        expect(value[0], key).toEqual(value[1]);
      }
      expect(rope(ours)).toEqual(rope(theirs));

      importHf(join(work, 'hf'), join(work, 'back'), { spec: join(work, 'back.moe') });
      const { ids } = JSON.parse(readFileSync(join(reference, `${name}.logits.json`), 'utf8')) as { ids: number[][] };
      expect(logitsOf(join(work, 'back'), ids)).toEqual(logitsOf(join(work, 'ck'), ids));
    });
  }
});

describe('the tokenizer travels with the checkpoint', () => {
  it('a copied checkpoint folder generates text with its own tokenizer, from anywhere; export writes it back with generation_config.json', async () => {
    const work = mkdtempSync(join(tmpdir(), 'moe-travel-'));
    const imported = importHf(join(reference, 'qwen3-moe-micro'), join(work, 'spec', 'ck'));
    expect(imported.tokenizer).toEqual({ copied: true });
    expect(readdirSync(join(work, 'spec', 'ck'))).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json']));
    const config = JSON.parse(readFileSync(join(work, 'spec', 'ck', 'tokenizer_config.json'), 'utf8')) as Json;
    expect(config.chat_template).toContain('<|im_start|>');

    // elsewhere, with the spec folder gone from view: another temp dir as the working folder
    const elsewhere = mkdtempSync(join(tmpdir(), 'moe-elsewhere-'));
    cpSync(join(work, 'spec', 'ck'), join(elsewhere, 'moved'), { recursive: true });
    const r = await runCli(['generate', 'moved', '--prompt', 'What is 12+30?', '--max-new-tokens', '4', '--json', '--backend', 'cpu'], elsewhere);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { ids: number[]; text: string };
    expect(result.ids.length).toBeGreaterThan(0);
    expect(typeof result.text).toBe('string');

    exportHf(join(elsewhere, 'moved'), join(elsewhere, 'hf'));
    const files = readdirSync(join(elsewhere, 'hf')).sort();
    expect(files).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    // the ids the config names: eos <|im_end|> = 2, pad <|endoftext|> = 0
    const generation = JSON.parse(readFileSync(join(elsewhere, 'hf', 'generation_config.json'), 'utf8')) as Json;
    expect(generation).toMatchObject({ eos_token_id: 2, pad_token_id: 0 });
    expect(readFileSync(join(elsewhere, 'hf', 'tokenizer.json'), 'utf8').length).toBeGreaterThan(1000);
    expect(existsSync(join(elsewhere, 'hf', 'chat_template.jinja'))).toBe(false);
  });
});

describe('a spec that asks for HF export', () => {
  it('and cannot have it is told so by moe train before training: MOE7201 at the `export` line, exit 1, no run folder', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'moe-export-train-'));
    const spec = join(cwd, 'spec.moe');
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'shapes', 'hf-export-softmax-mla.moe'), 'utf8');
    writeFileSync(
      spec,
      `${text}\ntokenizer bytes { kind = byte }\ndata corpus { source = "c.txt" }\npretrain base { model = SoftmaxMla, data = corpus, tokenizer = bytes, seq_len = 8, batch = 1, steps = 1 }\n`,
    );
    writeFileSync(join(cwd, 'c.txt'), 'hello world\n');
    const r = await runCli(['train', 'spec.moe', '--backend', 'cpu'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error\[MOE7201\]: model SoftmaxMla cannot be exported to HF transformers: `normalize = true` with `score = softmax`/);
    expect(r.stderr).toMatch(/spec\.moe:9:13/);
    expect(readdirSync(cwd).sort()).toEqual(['c.txt', 'spec.moe']);
  });
});

describe('a trained checkpoint', () => {
  it('holds its byte tokenizer as HF files; copied elsewhere it generates text and exports them', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'moe-trained-tok-'));
    const text = readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'clean', 'hf-export-families.moe'), 'utf8');
    writeFileSync(
      join(cwd, 'spec.moe'),
      `${text}\ntokenizer bytes { kind = byte }\ndata corpus { source = "c.txt" }\npretrain base { model = SoftmaxMlaV2, data = corpus, tokenizer = bytes, seq_len = 8, batch = 1, steps = 2 }\n`,
    );
    writeFileSync(join(cwd, 'c.txt'), 'hello world, hello moe\n\nanother paragraph of text\n');
    const trained = await runCli(['train', 'spec.moe', '--backend', 'cpu', '-o', 'run'], cwd);
    expect(trained.code).toBe(0);
    const checkpoint = readdirSync(join(cwd, 'run')).find((n) => n.startsWith('checkpoint-'))!;
    expect(readdirSync(join(cwd, 'run', checkpoint))).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json']));
    const elsewhere = mkdtempSync(join(tmpdir(), 'moe-trained-elsewhere-'));
    cpSync(join(cwd, 'run', checkpoint), join(elsewhere, 'ck'), { recursive: true });
    const r = await runCli(['generate', 'ck', '--prompt', 'hello', '--max-new-tokens', '3', '--json', '--backend', 'cpu'], elsewhere);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { ids: number[]; text: string };
    // the byte tokenizer's ids: bytes below 256, specials 256 … 258
    expect(result.ids.every((id) => id < 259)).toBe(true);
    exportHf(join(elsewhere, 'ck'), join(elsewhere, 'hf'));
    expect(JSON.parse(readFileSync(join(elsewhere, 'hf', 'generation_config.json'), 'utf8'))).toEqual({ bos_token_id: 256, eos_token_id: 257, pad_token_id: 258 });
  });
});
