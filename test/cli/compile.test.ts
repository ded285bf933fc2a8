/** `moe compile`: writes every requested format, refuses broken specs, reports unexportable models. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateGraph } from '../../ir/validate.js';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');

describe('moe compile', () => {
  it('writes the graph, the TypeScript module, the picture and the export configs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-compile-'));
    const r = await runCli(['compile', 'examples/deepseek-v3.moe', '-o', out, '--emit', 'graph,ts,dot,svg,hf-config,megatron'], repo);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const file of ['deepseek-v3.graph.json', 'deepseek-v3.graph.ts', 'DeepSeekV3.dot', 'DeepSeekV3.svg', 'DeepSeekV3.config.json', 'base.megatron.sh']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const graph = JSON.parse(readFileSync(join(out, 'deepseek-v3.graph.json'), 'utf8')) as unknown;
    expect(validateGraph(graph)).toEqual([]);
    const config = JSON.parse(readFileSync(join(out, 'DeepSeekV3.config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'deepseek_v3', n_routed_experts: 256, num_experts_per_tok: 8, first_k_dense_replace: 3 });
    expect(readFileSync(join(out, 'base.megatron.sh'), 'utf8')).toContain('--expert-model-parallel-size');
  });

  it('emits the graph by default into the current folder', async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-compile-'));
    writeFileSync(join(out, 'tiny.moe'), readFileSync(join(repo, 'examples', 'deepseek-tiny.moe')));
    const r = await runCli(['compile', 'tiny.moe'], out);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('wrote tiny.graph.json\n');
  });

  it('refuses a spec with errors and writes nothing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-compile-'));
    writeFileSync(join(out, 'bad.moe'), 'model M { vocab = 10 }\n');
    const r = await runCli(['compile', 'bad.moe'], out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nothing compiled');
    expect(existsSync(join(out, 'bad.graph.json'))).toBe(false);
  });

  it('reports MOE7002 when a format cannot express the model, and still writes the others', async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-compile-'));
    writeFileSync(
      join(out, 'late-dense.moe'),
      `model M {
  vocab = 300, dim = 32, layers = 2, context = 64
  attention mla { heads = 2, kv_rank = 16, nope_dim = 8, rope_dim = 4, v_dim = 8 }
  layers 0..0 { moe { experts = 4, hidden = 16, top_k = 2 } }
  layers 1..1 { ffn swiglu { hidden = 64 } }
}
`,
    );
    const r = await runCli(['compile', 'late-dense.moe', '--emit', 'graph,hf-config'], out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[MOE7002]: cannot emit hf-config for `late-dense`');
    expect(r.stderr).toContain('dense');
    expect(existsSync(join(out, 'late-dense.graph.json'))).toBe(true);
  });

  it('exits 2 on an unknown format', async () => {
    const r = await runCli(['compile', 'examples/r1-tiny.moe', '--emit', 'graph,onnx'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown --emit format `onnx`');
  });
});
