/** `moe import hf` and `moe export hf` on the command line: output, exit codes and messages. */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers.js';
import { lateDenseCheckpoint, tempDir, tinyDeepseekConfig, tinyDeepseekFolder } from './helpers.js';

describe('moe import hf', () => {
  it('writes the checkpoint and the spec beside it, exit 0', async () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: true });
    const cwd = tempDir();
    const r = await runCli(['import', 'hf', dir, '-o', 'out/ckpt', '--name', 'Tiny'], cwd);
    expect(r.stderr).toBe('note: the HF folder has no tokenizer.json, so the checkpoint has none: moe generate needs --ids or --tokenizer\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('wrote out/ckpt (model Tiny, 97 tensors)\nwrote out/Tiny.moe\n');
    expect(readdirSync(join(cwd, 'out')).sort()).toEqual(['Tiny.moe', 'ckpt']);
    const check = await runCli(['check', 'out/Tiny.moe'], cwd);
    expect(check.code).toBe(0);
  });

  it('a missing folder is a usage error, exit 2', async () => {
    const cwd = tempDir();
    const r = await runCli(['import', 'hf', 'nowhere', '-o', 'ckpt'], cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: no such folder: nowhere\n');
    expect(existsSync(join(cwd, 'ckpt'))).toBe(false);
  });

  it('a refused config prints error and help, exit 1, and writes nothing', async () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyDeepseekConfig({ qLoraRank: 12, mtp: false }), model_type: 'gpt_neox' }));
    const cwd = tempDir();
    const r = await runCli(['import', 'hf', dir, '-o', 'ckpt'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${join(dir, 'config.json')}: model_type "gpt_neox" is not supported\nhelp: moe import hf reads deepseek_v2, deepseek_v3, mixtral, llama, qwen2_moe, qwen3_moe, olmoe checkpoints\n`);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('usage mistakes exit 2', async () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    expect((await runCli(['import', 'gguf', dir, '-o', 'x'], tempDir())).stderr).toBe('error: unknown checkpoint format `gguf`; formats: hf\n');
    expect((await runCli(['import', 'hf', dir], tempDir())).code).toBe(2);
    const badName = await runCli(['import', 'hf', dir, '-o', 'x', '--name', '9lives'], tempDir());
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/--name 9lives is not a model name/);
  });
});

describe('moe export hf', () => {
  it('exports an imported checkpoint, exit 0', async () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: true });
    const cwd = tempDir();
    expect((await runCli(['import', 'hf', dir, '-o', 'ckpt', '--name', 'Tiny'], cwd)).code).toBe(0);
    const r = await runCli(['export', 'hf', 'ckpt', '-o', 'hf', '--dtype', 'bf16'], cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('wrote hf (deepseek_v3 model Tiny, 99 tensors, bf16)\n');
    expect(readdirSync(join(cwd, 'hf')).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
  });

  it('a model HF cannot express: error and help, exit 1', async () => {
    const cwd = tempDir();
    lateDenseCheckpoint(join(cwd, 'late'));
    const r = await runCli(['export', 'hf', 'late', '-o', 'hf'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: MOE7201: model Late cannot be exported to HF transformers: dense layers must be the first k layers for deepseek_v3 (layer 1 is dense after MoE layers)\n' +
        'help: `moe explain MOE7201` says more; the checkpoint itself stays usable by moe\n',
    );
    expect(existsSync(join(cwd, 'hf'))).toBe(false);
  });

  it('a missing checkpoint and a bad --dtype are usage errors, exit 2', async () => {
    const cwd = tempDir();
    const missing = await runCli(['export', 'hf', 'gone', '-o', 'hf'], cwd);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('error: no such folder: gone\n');
    const dtype = await runCli(['export', 'hf', 'gone', '-o', 'hf', '--dtype', 'f16'], cwd);
    expect(dtype.code).toBe(2);
    expect(dtype.stderr).toBe('error: unknown --dtype `f16`; dtypes: f32, bf16\n');
  });

  it('a folder that is not a checkpoint: exit 1', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'x.txt'), '');
    const r = await runCli(['export', 'hf', '.', '-o', 'hf'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${cwd} is not a checkpoint: it has no checkpoint.json\n`);
  });
});
