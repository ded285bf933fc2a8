/**
 * MOE_CUDA_PROFILE's table (runtime/cuda/profile.ts, fed by the executor): a step graph's first run
 * (module loading, cuBLASLt heuristics) is left out, the header says how many steps the table
 * covers, each op has its number of calls; ops outside training steps are all counted. On the CUDA
 * emulator too: a CudaModel training three steps reports two, each op's calls those of two steps.
 */
import { describe, expect, it } from 'vitest';
import { selectBackend } from '../../../runtime/backend/select.js';
import { CudaModel } from '../../../runtime/cuda/executor.js';
import { OpProfile } from '../../../runtime/cuda/profile.js';
import { openCuda } from '../../../runtime/cuda/runtime.js';
import { ParamStore, type TensorData } from '../../../runtime/model/params.js';
import { modelOf } from '../../../bench/cuda-specs.js';
import { buildEmulator } from './emulator/build.js';

/** A clock the ops move: each op "takes" the milliseconds it is given, so the table is known exactly. */
function fakeDevice(): { profile: OpProfile; op: (ms: number) => () => void; syncs: () => number } {
  let now = 0;
  let syncs = 0;
  const profile = new OpProfile(
    () => void syncs++,
    () => now,
  );
  return { profile, op: (ms) => () => void (now += ms), syncs: () => syncs };
}

/** The table's rows: label → [calls, ms]. */
const rows = (report: string): Map<string, [number, number]> =>
  new Map([...report.matchAll(/^ {2}(\S.*?) +(\d+) +([\d.]+) ms +[\d.]+%$/gm)].map((m) => [m[1]!, [Number(m[2]), Number(m[3])]]));

describe('the cuda profile', () => {
  it("leaves out each graph key's first run, says how many steps it covers, and counts each op's calls", () => {
    const { profile, op, syncs } = fakeDevice();
    // three training steps of one shape: forward 10 ms, backward 20 ms, AdamW 5 ms; the first 1000 ms each (warm-up)
    for (let step = 0; step < 3; step++) {
      const cost = step === 0 ? 1000 : 1;
      profile.graph('step 2×16 first last', true, () => {
        profile.time('linear fwd', op(10 * cost));
        profile.time('linear fwd', op(10 * cost));
        profile.time('linear bwd', op(20 * cost));
      });
      profile.graph('adamw true *', false, () => profile.time('adamw', op(5 * cost)));
    }
    const report = profile.report();
    expect(report.split('\n')[0]).toBe(
      'cuda profile (90 ms, each op synchronized): 2 training steps, leaving out 1 first step of a shape (warm-up: module loading, cuBLASLt heuristics)',
    );
    expect(rows(report)).toEqual(
      new Map([
        ['linear fwd', [4, 40]],
        ['linear bwd', [2, 40]],
        ['adamw', [2, 10]],
      ]),
    );
    // largest first, and the warm-up ops were not synchronized either: two per counted op
    expect([...rows(report).keys()][2]).toBe('adamw');
    expect(syncs()).toBe(2 * 8);
  });

  it('counts every op outside a training step (a validation forward, a decode step), saying so', () => {
    const { profile, op } = fakeDevice();
    profile.time('embed fwd', op(3));
    profile.time('embed fwd', op(3));
    expect(profile.report().split('\n')[0]).toBe('cuda profile (6 ms, each op synchronized): 2 op calls outside training steps (validation, decoding), all counted');
    expect(rows(profile.report())).toEqual(new Map([['embed fwd', [2, 6]]]));
  });

  it('is empty when nothing was counted (only warm-up)', () => {
    const { profile, op } = fakeDevice();
    profile.graph('step', true, () => profile.time('linear fwd', op(1)));
    expect(profile.report()).toBe('');
  });
});

const emulator = await buildEmulator();
const skip = 'skip' in emulator ? emulator.skip : undefined;

describe.skipIf(skip !== undefined)('the cuda profile on the emulator', () => {
  it('of three training steps covers the last two: each op called as often as the graph has it, twice', { timeout: 300_000 }, async () => {
    const saved = { path: process.env.MOE_CUDA_LIBRARY_PATH, profile: process.env.MOE_CUDA_PROFILE };
    process.env.MOE_CUDA_LIBRARY_PATH = 'dir' in emulator ? emulator.dir : '';
    process.env.MOE_CUDA_PROFILE = '1';
    try {
      await selectBackend('cpu');
      const gpu = await openCuda();
      const model = modelOf('profiled', 'model P {\n  vocab = 32, dim = 16, layers = 1, context = 16\n  attention gqa { heads = 2, kv_heads = 1 }\n  layers 0..0 { ffn swiglu { hidden = 16 } }\n}');
      const snap = await ParamStore.initialise(model, 7).snapshot();
      const cuda = new CudaModel(gpu, model, snap.params as Map<string, TensorData>, snap.state as Map<string, TensorData>, { training: true });
      const [B, T] = [2, 8];
      const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 32);
      for (let step = 0; step < 3; step++) cuda.trainStep(ids, B, T, { lr: 1e-3, clip: 1, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
      const report = cuda.profileReport();
      cuda.dispose();
      expect(report.split('\n')[0]).toMatch(/^cuda profile \(\d+ ms, each op synchronized\): 2 training steps, leaving out 1 first step of a shape/);
      const table = rows(report);
      const perStep = new Map<string, number>();
      for (const node of model.nodes) perStep.set(`${node.op} fwd`, (perStep.get(`${node.op} fwd`) ?? 0) + 1);
      for (const [label, count] of perStep) expect(table.get(label)?.[0], label).toBe(2 * count);
      expect(table.get('adamw')?.[0]).toBe(2);
    } finally {
      if (saved.path === undefined) delete process.env.MOE_CUDA_LIBRARY_PATH;
      else process.env.MOE_CUDA_LIBRARY_PATH = saved.path;
      if (saved.profile === undefined) delete process.env.MOE_CUDA_PROFILE;
      else process.env.MOE_CUDA_PROFILE = saved.profile;
    }
  });
});
