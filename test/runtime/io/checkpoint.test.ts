/** Our checkpoint folder: round trip of deepseek-tiny, atomic writes, mismatches refused, memory refused. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ParamStore, type TensorData } from '../../../runtime/model/params.js';
import { readCheckpoint, writeCheckpoint } from '../../../runtime/io/checkpoint.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors } from '../../../runtime/io/safetensors.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { lowerExample, refusal, sameTensors, tempDir, tensorsFor } from './helpers.js';

const document = lowerExample('deepseek-tiny');
const model = document.models[0]!;
const { params, state } = tensorsFor(model);

function written(): string {
  const dir = join(tempDir(), 'ckpt');
  writeCheckpoint(dir, { document, model: 'DeepSeekTiny', params, state });
  return dir;
}

/** Rewrites the checkpoint's model.safetensors through `edit` on its (name → tensor) list. */
function editWeights(dir: string, edit: (tensors: Map<string, { dtype: 'F32'; shape: number[]; data: Float32Array }>) => void): void {
  const path = join(dir, 'model.safetensors');
  const tensors = new Map([...readSafetensors(path).tensors].map(([n, t]) => [n, { dtype: 'F32' as const, shape: [...t.shape], data: t.data as Float32Array }]));
  edit(tensors);
  writeSafetensors(path, tensors);
}

describe('checkpoint round trip', () => {
  it('writes the four files, HF names with experts expanded, and reads back identical tensors', () => {
    const dir = written();
    expect(readdirSync(dir).sort()).toEqual(['checkpoint.json', 'config.json', 'graph.json', 'model.safetensors']);
    expect(JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'))).toEqual({ format: 'moe-checkpoint', version: 1, model: 'DeepSeekTiny' });
    expect(JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(document)));
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'deepseek_v3', n_routed_experts: 8, torch_dtype: 'float32' });

    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.get('model.layers.3.mlp.experts.7.gate_proj.weight')).toMatchObject({ dtype: 'F32', shape: [64, 64] });
    expect(header.tensors.get('model.layers.1.mlp.gate.e_score_correction_bias')).toMatchObject({ dtype: 'F32', shape: [8] });
    expect(header.tensors.get('model.layers.4.eh_proj.weight')).toMatchObject({ shape: [64, 128] });
    expect([...header.tensors.keys()].some((n) => n.includes('{j}'))).toBe(false);

    const back = readCheckpoint(dir);
    expect(back.model.name).toBe('DeepSeekTiny');
    expect(back.document).toEqual(JSON.parse(JSON.stringify(document)));
    expect(sameTensors(back.params, params)).toEqual([]);
    expect(sameTensors(back.state, state)).toEqual([]);
    expect(back.params.get('model.layers.2.mlp.experts.{j}.down_proj.weight')!.shape).toEqual([8, 64, 64]);
    // exactly what the runtime's parameter store takes
    ParamStore.fromTensors(back.model, back.params, back.state).dispose();
  });

  it('stores expert j of a stacked parameter as slice j', () => {
    const dir = written();
    const stacked = params.get('model.layers.2.mlp.experts.{j}.up_proj.weight')!;
    const header = readSafetensorsHeader(join(dir, 'model.safetensors'));
    const size = 64 * 64;
    const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
    expect(header.tensors.has('model.layers.2.mlp.experts.5.up_proj.weight')).toBe(true);
    expect(tensors.get('model.layers.2.mlp.experts.5.up_proj.weight')!.data).toEqual(stacked.data.slice(5 * size, 6 * size));
  });

  it('replaces an earlier checkpoint in the same folder', () => {
    const dir = written();
    const other = tensorsFor(model, 99);
    writeCheckpoint(dir, { document, model, params: other.params, state: other.state });
    expect(sameTensors(readCheckpoint(dir).params, other.params)).toEqual([]);
    expect(readdirSync(join(dir, '..'))).toEqual(['ckpt']);
  });
});

describe('atomic writes', () => {
  const broken = (): Map<string, TensorData> => {
    // the shape is right (so the graph check passes) but the data is short: the safetensors writer
    // throws after checkpoint.json and graph.json are already in the temporary folder
    const copy = new Map(params);
    const name = 'model.layers.3.mlp.experts.{j}.down_proj.weight';
    copy.set(name, { shape: params.get(name)!.shape, data: new Float32Array(10) });
    return copy;
  };

  it('a failure mid-write leaves no checkpoint and no temporary folder', () => {
    const parent = tempDir();
    const dir = join(parent, 'ckpt');
    const error = refusal(() => writeCheckpoint(dir, { document, model, params: broken(), state }));
    expect(error.message).toMatch(/tensor model\.layers\.3\.mlp\.experts\.0\.down_proj\.weight: it holds 10 values, its shape \[64, 64\] needs 4096/);
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('a failure while replacing keeps the old checkpoint intact', () => {
    const dir = written();
    expect(() => writeCheckpoint(dir, { document, model, params: broken(), state })).toThrow(RuntimeError);
    expect(readdirSync(join(dir, '..'))).toEqual(['ckpt']);
    expect(sameTensors(readCheckpoint(dir).params, params)).toEqual([]);
  });

  it('refuses to replace a folder holding other files', () => {
    const parent = tempDir();
    writeFileSync(join(parent, 'notes.txt'), 'mine');
    const error = refusal(() => writeCheckpoint(parent, { document, model, params, state }));
    expect(error.message).toBe(`${parent} already exists and holds other files (notes.txt)`);
    expect(readdirSync(parent)).toEqual(['notes.txt']);
  });
});

describe('mismatches are refused with the tensor and both shapes', () => {
  it('writing: missing, extra and wrong-shaped tensors', () => {
    const missing = new Map(params);
    missing.delete('model.norm.weight');
    expect(refusal(() => writeCheckpoint(join(tempDir(), 'c'), { document, model, params: missing, state })).message).toContain(
      'missing tensor model.norm.weight [64]: the parameters given does not have it',
    );
    const extra = new Map(params).set('model.extra.weight', { shape: [2], data: new Float32Array(2) });
    expect(refusal(() => writeCheckpoint(join(tempDir(), 'c'), { document, model, params: extra, state })).message).toContain(
      'unexpected tensor model.extra.weight [2] in the parameters given',
    );
    const shaped = new Map(state).set('model.layers.1.mlp.gate.e_score_correction_bias', { shape: [4], data: new Float32Array(4) });
    expect(refusal(() => writeCheckpoint(join(tempDir(), 'c'), { document, model, params, state: shaped })).message).toContain(
      'tensor model.layers.1.mlp.gate.e_score_correction_bias is [4] in the state given, the graph expects [8]',
    );
  });

  it('reading: a tensor missing from the file', () => {
    const dir = written();
    editWeights(dir, (t) => t.delete('model.layers.2.mlp.experts.3.gate_proj.weight'));
    const error = refusal(() => readCheckpoint(dir));
    expect(error.message).toContain(`${join(dir, 'model.safetensors')} does not match model DeepSeekTiny of its graph`);
    expect(error.message).toContain('missing tensor model.layers.2.mlp.experts.3.gate_proj.weight [64, 64]');
  });

  it('reading: an extra tensor and a wrong shape, all reported at once', () => {
    const dir = written();
    const path = join(dir, 'model.safetensors');
    editWeights(dir, (t) => {
      t.set('model.layers.9.mlp.gate.weight', { dtype: 'F32', shape: [8, 64], data: new Float32Array(512) });
      t.set('model.norm.weight', { dtype: 'F32', shape: [32], data: new Float32Array(32) });
    });
    const error = refusal(() => readCheckpoint(dir));
    expect(error.message).toContain(`tensor model.norm.weight is [32] in ${path}, the graph expects [64]`);
    expect(error.message).toContain(`unexpected tensor model.layers.9.mlp.gate.weight [8, 64] in ${path}`);
  });

  it('reading: integer weights', () => {
    const dir = written();
    const path = join(dir, 'model.safetensors');
    const tensors = new Map([...readSafetensors(path).tensors]);
    tensors.set('model.norm.weight', { dtype: 'I32', shape: [64], data: new Int32Array(64) });
    writeSafetensors(path, tensors);
    expect(refusal(() => readCheckpoint(dir)).message).toContain('tensor model.norm.weight [64] is I32');
  });

  it('reading: a graph that fails its schema, a missing folder, a foreign folder', () => {
    const dir = written();
    const graph = JSON.parse(readFileSync(join(dir, 'graph.json'), 'utf8')) as { ir_version: number };
    graph.ir_version = 99;
    writeFileSync(join(dir, 'graph.json'), JSON.stringify(graph));
    expect(refusal(() => readCheckpoint(dir)).message).toMatch(/graph\.json is not a valid graph/);
    expect(refusal(() => readCheckpoint(join(dir, 'nope'))).message).toMatch(/no checkpoint at .*nope: the folder does not exist/);
    expect(refusal(() => readCheckpoint(tempDir())).message).toMatch(/is not a checkpoint: it has no checkpoint\.json/);
  });

  it('reading: a checkpoint.json of another format or version', () => {
    const dir = written();
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ format: 'moe-checkpoint', version: 7, model: 'DeepSeekTiny' }));
    expect(refusal(() => readCheckpoint(dir)).message).toMatch(/checkpoint version 7 is not one this moe reads/);
    writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ format: 'moe-checkpoint', version: 1, model: 'Other' }));
    expect(refusal(() => readCheckpoint(dir)).message).toMatch(/the graph has no model Other; it has DeepSeekTiny/);
  });
});

describe('memory', () => {
  const saved = process.env.MOE_MEMORY_LIMIT;
  afterEach(() => {
    if (saved === undefined) delete process.env.MOE_MEMORY_LIMIT;
    else process.env.MOE_MEMORY_LIMIT = saved;
  });

  it('refuses a model over MOE_MEMORY_LIMIT before reading a tensor, saying how much it needs', () => {
    const dir = written();
    const bytes = 4 * [...params.values(), ...state.values()].reduce((s, t) => s + t.data.length, 0);
    process.env.MOE_MEMORY_LIMIT = '100000';
    const error = refusal(() => readCheckpoint(dir));
    expect(error.message).toContain(`model DeepSeekTiny needs ${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes.toLocaleString('en-US')} bytes)`);
    expect(error.message).toContain('the limit is 97.7 KiB (100,000 bytes)');
    expect(error.help).toMatch(/MOE_MEMORY_LIMIT/);
    process.env.MOE_MEMORY_LIMIT = String(bytes);
    expect(readCheckpoint(dir).params.size).toBe(params.size);
  });
});
