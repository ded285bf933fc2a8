/** `moe init` and `moe logits`: a checkpoint from a spec, logits as text and JSON, clear refusals. */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');

describe('moe init and moe logits', () => {
  let checkpoint: string;
  beforeAll(async () => {
    checkpoint = join(mkdtempSync(join(tmpdir(), 'moe-logits-')), 'ck');
    const r = await runCli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '5'], repo);
    expect(r.code).toBe(0);
  });

  it('prints every logit as JSON, one row per position', async () => {
    const r = await runCli(['logits', checkpoint, '--ids', '3,17,42', '--json', '--backend', 'cpu'], repo);
    expect(r.code).toBe(0);
    const { logits } = JSON.parse(r.stdout) as { logits: number[][] };
    expect(logits).toHaveLength(3);
    expect(logits.every((row) => row.length === 320 && row.every(Number.isFinite))).toBe(true);
  });

  it('is causal: a later token does not change earlier positions', async () => {
    const a = JSON.parse((await runCli(['logits', checkpoint, '--ids', '3,17,42', '--json', '--backend', 'cpu'], repo)).stdout) as { logits: number[][] };
    const b = JSON.parse((await runCli(['logits', checkpoint, '--ids', '3,17,99', '--json', '--backend', 'cpu'], repo)).stdout) as { logits: number[][] };
    expect(b.logits[0]).toEqual(a.logits[0]);
    expect(b.logits[1]).toEqual(a.logits[1]);
    expect(b.logits[2]).not.toEqual(a.logits[2]);
  });

  it('says which backend it used, and refuses bad ids and unknown backends', async () => {
    const text = await runCli(['logits', checkpoint, '--ids', '3,17', '--backend', 'cpu'], repo);
    expect(text.stderr).toContain('backend cpu');
    expect(text.stdout).toContain('position 1 (id 17): top ');
    const outside = await runCli(['logits', checkpoint, '--ids', '3,999', '--backend', 'cpu'], repo);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('token id 999 is outside the vocabulary 0..319');
    expect((await runCli(['logits', checkpoint, '--ids', '3,x'], repo)).code).toBe(2);
    expect((await runCli(['logits', checkpoint, '--ids', '3', '--backend', 'metal'], repo)).code).toBe(2);
  });

  it('refuses a folder that is not a checkpoint with a message, not a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-notckpt-'));
    writeFileSync(join(dir, 'graph.json'), '{}');
    const r = await runCli(['logits', dir, '--ids', '1', '--backend', 'cpu'], repo);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('moe logits --backend cuda without a GPU', () => {
  it('exits with one clear line and no stack trace (or runs, where a GPU exists)', async () => {
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'moe-logits-cuda-')), 'ck');
    expect((await runCli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '5'], repo)).code).toBe(0);
    const r = await runCli(['logits', checkpoint, '--ids', '3,17', '--json', '--backend', 'cuda'], repo);
    if (r.code === 0) return; // a machine with a GPU: the device script checks the numbers
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: (no CUDA|no cuBLASLt|CUDA |the CUDA driver|the cuda backend)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('moe run --backend cuda runs the pipeline on cuda: without a GPU, one line and exit 1, nothing written', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'moe-run-cuda-')), 'runs');
    const r = await runCli(['run', 'examples/r1-tiny.moe', '--backend', 'cuda', '--steps', '1', '-o', out], repo);
    if (r.code === 0) return; // a machine with a GPU
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: (no CUDA|no cuBLASLt|CUDA |the CUDA driver|the cuda backend)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it('moe generate --backend cuda decodes on cuda: without a GPU, one line and exit 1, no stack trace', async () => {
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'moe-generate-cuda-')), 'ck');
    expect((await runCli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '5'], repo)).code).toBe(0);
    const r = await runCli(['generate', checkpoint, '--ids', '3,17', '--max-new-tokens', '2', '--json', '--backend', 'cuda'], repo);
    if (r.code === 0) return; // a machine with a GPU: bench/cuda-decode-check.ts checks the ids
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: (no CUDA|no cuBLASLt|CUDA |the CUDA driver|the cuda backend)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('moe train --backend cuda without a GPU: one line, exit 1, nothing written', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'moe-train-cuda-')), 'run');
    const r = await runCli(['train', 'examples/r1-tiny.moe', '--backend', 'cuda', '--steps', '1', '-o', out], repo);
    if (r.code === 0) return; // a machine with a GPU
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: (no CUDA|no cuBLASLt|CUDA |the CUDA driver|the cuda backend)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });
});
