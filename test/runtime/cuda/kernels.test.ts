/**
 * The shipped PTX (runtime/cuda/kernels.generated.ts) is built from the current .cu sources: the hash
 * must match (`npm run build:cuda` refreshes it), and where nvcc exists the PTX is rebuilt and compared.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CUDA_SOURCES, kernelSourceHash, NVCC_FLAGS } from '../../../runtime/cuda/kernel-sources.js';
import { PTX, SOURCE_HASH } from '../../../runtime/cuda/kernels.generated.js';
import { CUDA_OP_NAMES } from '../../../runtime/cuda/ops/index.js';
import { precise } from '../../../runtime/cuda/ops/moe.js';

const repo = join(import.meta.dirname, '..', '..', '..');

function nvccAvailable(): boolean {
  try {
    execFileSync(process.env.NVCC ?? 'nvcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('generated CUDA kernels', () => {
  it('were built from the current sources (npm run build:cuda)', () => {
    expect(SOURCE_HASH).toBe(kernelSourceHash(repo));
    expect(Object.keys(PTX).sort()).toEqual([...CUDA_SOURCES].sort());
  });

  it('hold every kernel the ops launch', () => {
    // every file of ops/ (a new op's file is read without being listed here), and the decoder
    const ops = readdirSync(join(repo, 'runtime/cuda/ops')).filter((f) => f.endsWith('.ts')).map((f) => `ops/${f}`);
    const source = [...ops, 'decoder.ts']
      .map((f) => readFileSync(join(repo, 'runtime/cuda', f), 'utf8'))
      .join('\n');
    const launched = new Set([...source.matchAll(/(?:launch\(\w+(?:\.gpu)?, |kernel\(|sharedFits\(ctx, )'([a-z_0-9]+)'/g)].map((m) => m[1]!));
    expect(launched.size).toBeGreaterThan(10);
    const ptx = Object.values(PTX).join('\n');
    for (const name of launched) expect(ptx, name).toContain(`.entry ${name}(`);
    // the grouped GEMMs are named by shape and precision (ops/moe.ts `grouped`)
    for (const shape of ['nt', 'nn', 'tn']) for (const name of [`grouped_gemm_${shape}`, `grouped_${shape}_bf16`]) expect(ptx, name).toContain(`.entry ${name}(`);
    // and the producers of their operands have a bf16 variant (ops/moe.ts `precise`)
    for (const base of ['expert_gather', 'swiglu_gate_fwd', 'expert_combine_bwd', 'swiglu_gate_bwd'] as const) {
      for (const name of [precise(base, false), precise(base, true)]) expect(ptx, name).toContain(`.entry ${name}(`);
    }
    expect(CUDA_OP_NAMES.length).toBe(16);
    expect(launched).toContain('shared_gate_fwd');
    expect(launched).toContain('shared_gate_bwd');
  });

  it.skipIf(!nvccAvailable())('match what nvcc builds from them now (skipped where nvcc is missing)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-ptx-test-'));
    for (const name of CUDA_SOURCES) {
      const out = join(dir, `${name}.ptx`);
      execFileSync(process.env.NVCC ?? 'nvcc', [...NVCC_FLAGS, join(repo, 'runtime/cuda/kernels', `${name}.cu`), '-o', out]);
      expect(readFileSync(out, 'utf8')).toBe(PTX[name]);
    }
  });
});
