/**
 * `--backend cuda` without a GPU, on the CUDA emulator (test/runtime/cuda/emulator/): the device
 * checks of bench/ — every op's forward and backward, recompute, micro-batches, bf16 on the grouped
 * tensor-core kernels, captured graphs (bench/cuda-check.ts), flash attention
 * (bench/cuda-flash-check.ts), the cached decoder
 * (bench/cuda-decode-check.ts), a GRPO update (bench/cuda-grpo-check.ts) — against the cpu backend,
 * with a block's threads run first to last and last to first (a missing barrier shows in one order).
 * And the emulator itself: it finds every kernel the PTX names, and it catches what a GPU would hide
 * or hang on (a deadlock, an overrun, a product past its buffer, a copy that breaks a capture).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CublasLt } from '../../../runtime/cuda/cublaslt.js';
import { CudaDriver, ptr } from '../../../runtime/cuda/driver.js';
import { CUDA_SOURCES } from '../../../runtime/cuda/kernel-sources.js';
import { PTX } from '../../../runtime/cuda/kernels.generated.js';
import { SPECS } from '../../../bench/cuda-specs.js';
import { buildEmulator, dynamicSharedAsPointer, kernelSignatures } from './emulator/build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const emulator = await buildEmulator();
const skip = 'skip' in emulator ? emulator.skip : undefined;
if (skip) console.warn(`cuda emulator tests skipped: ${skip}`);
const dir = 'dir' in emulator ? emulator.dir : '';

describe('the emulator build', () => {
  it('finds each kernel the PTX names, in every module', () => {
    for (const m of CUDA_SOURCES) {
      const source = readFileSync(join(root, 'runtime/cuda/kernels', `${m}.cu`), 'utf8');
      const parsed = kernelSignatures(source).map((k) => k.name).sort();
      const entries = [...PTX[m]!.matchAll(/\.entry\s+(\w+)\s*\(/g)].map((e) => e[1]!).sort();
      expect(parsed, m).toEqual(entries);
    }
  });

  it('reads parameter types past comments, __launch_bounds__ and __restrict__', () => {
    const source = `// extern "C" __global__ void commented(int a) {}
extern "C" __global__ void __launch_bounds__(128) k(const float* __restrict__ x, int n,
    /* scale */ float s) {}`;
    expect(kernelSignatures(source)).toEqual([{ name: 'k', params: [{ type: 'const float*', name: 'x' }, { type: 'int', name: 'n' }, { type: 'float', name: 's' }] }]);
  });

  it('turns dynamic shared memory into a pointer to the block buffer', () => {
    expect(dynamicSharedAsPointer('  extern __shared__ float sh[];')).toBe('  float* sh = static_cast<float*>(::emu::dynamic_shared());');
  });
});

describe.skipIf(skip !== undefined)('the emulator catches', () => {
  const open = (): Promise<CudaDriver> => CudaDriver.open(join(dir, 'libcuda.so.1'));
  const kernel = (driver: CudaDriver, name: string): unknown => driver.loadModule(`.visible .entry ${name}(\n`)(name);

  it('nothing in a correct block reduction (warp shuffles, shared memory, barriers)', async () => {
    const driver = await open();
    const x = Float32Array.from({ length: 3 * 128 }, (_, i) => Math.sin(i) * 3);
    const [dx, dout] = [driver.alloc(x.byteLength), driver.alloc(12)];
    driver.upload(dx, x);
    driver.launch(kernel(driver, 'emu_selftest_block_sum'), [3], 128, [ptr(dx), ptr(dout)]);
    const out = new Float32Array(3);
    driver.download(out, dout);
    for (let b = 0; b < 3; b++) expect(out[b]).toBeCloseTo(x.subarray(b * 128, (b + 1) * 128).reduce((s, v) => s + v, 0), 4);
  });

  it('runs the grid\'s blocks first to last, and last to first under MOE_CUDA_EMULATOR_ORDER=reverse', async () => {
    const driver = await open();
    const ran = (): number[] => {
      const [order, next] = [driver.alloc(6 * 4), driver.alloc(4)];
      driver.zero(next, 4);
      driver.launch(kernel(driver, 'emu_selftest_block_order'), [3, 2], 32, [ptr(order), ptr(next)]);
      const out = new Int32Array(6);
      driver.download(out, order);
      return [...out];
    };
    expect(ran()).toEqual([0, 1, 2, 3, 4, 5]);
    const saved = process.env.MOE_CUDA_EMULATOR_ORDER;
    process.env.MOE_CUDA_EMULATOR_ORDER = 'reverse';
    try {
      expect(ran()).toEqual([5, 4, 3, 2, 1, 0]);
    } finally {
      if (saved === undefined) delete process.env.MOE_CUDA_EMULATOR_ORDER;
      else process.env.MOE_CUDA_EMULATOR_ORDER = saved;
    }
  });

  it('a deadlock: threads waiting at barriers that can never open fail the launch', async () => {
    const driver = await open();
    const out = driver.alloc(64 * 4);
    expect(() => driver.launch(kernel(driver, 'emu_selftest_deadlock'), [1], 64, [ptr(out)])).toThrow(/cuLaunchKernel failed: unspecified launch failure/);
  });

  it('PTX naming a kernel the emulator was not built with', async () => {
    const driver = await open();
    expect(() => driver.loadModule('.visible .entry not_built(\n')).toThrow(/cuModuleLoadData failed: device kernel image is invalid/);
  });

  it('a synchronous copy while the stream captures (it would break the capture on a GPU)', async () => {
    const driver = await open();
    const d = driver.alloc(16);
    expect(() => driver.capture(() => driver.upload(d, new Float32Array(4)))).toThrow(/cuMemcpyHtoD failed: operation would make the legacy stream depend/);
  });

  it('a matrix product that reads past its buffer', async () => {
    const driver = await open();
    const lt = await CublasLt.open(join(dir, 'libcublasLt.so.13'), driver);
    const [a, b, c] = [driver.alloc(8 * 8 * 4), driver.alloc(8 * 8 * 4), driver.alloc(8 * 8 * 4)];
    expect(() => lt.gemm({ m: 8, n: 8, k: 8, transA: false, transB: false, a, b, c })).not.toThrow();
    expect(() => lt.gemm({ m: 16, n: 8, k: 8, transA: false, transB: false, a, b, c })).toThrow(/cuBLASLt Matmul failed with status 7/);
  });

  it('a kernel writing past its allocation, named with its block and thread (the process dies, as on a GPU)', () => {
    const script = join(mkdtempSync(join(tmpdir(), 'moe-emu-')), 'overrun.mts');
    writeFileSync(
      script,
      `import { CudaDriver, i32, ptr } from ${JSON.stringify(join(root, 'runtime/cuda/driver.ts'))};
const driver = await CudaDriver.open(process.argv[2]);
const overrun = driver.loadModule('.entry emu_selftest_overrun(')('emu_selftest_overrun');
const x = driver.alloc(1024 * 4);
driver.launch(overrun, [1], 1, [ptr(x), i32(1024)]);
console.log('no fault');
`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script, join(dir, 'libcuda.so.1')], { cwd: root, encoding: 'utf8' });
    expect(run.stdout).not.toContain('no fault');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('cuda emulator: kernel emu_selftest_overrun block (0, 0, 0) thread (0, 0, 0) touched memory outside every allocation');
  });
});

/** Runs a bench check script on the emulator (a child process, not blocking the test worker); its output and exit status. */
function benchCheck(script: string, order: 'forward' | 'reverse', extra: Record<string, string> = {}): Promise<{ status: number | null; out: string }> {
  const json = join(mkdtempSync(join(tmpdir(), 'moe-emu-check-')), 'out.json');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', script), json], {
    cwd: root,
    env: { ...process.env, MOE_CUDA_LIBRARY_PATH: dir, MOE_CUDA_EMULATOR_ORDER: order, MOE_CHECK_STEPS: '3', ...extra },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, out })));
}

describe.skipIf(skip !== undefined)('the cuda backend on the emulator, against the cpu backend', () => {
  for (const order of ['forward', 'reverse'] as const) {
    it(`every op forward and backward, recompute, micro-batches, bf16, captured training steps (threads ${order})`, { timeout: 900_000 }, async () => {
      const { status, out } = await benchCheck('cuda-check.ts', order);
      expect(out).toContain('ALL PASS');
      expect(out).not.toContain('FAIL ');
      expect(status, out).toBe(0);
      // every spec judged: logits at two shapes, gradients, recompute, steps
      expect(out.match(/^PASS /gm)?.length, out).toBe(Object.keys(SPECS).length * 5);
    });

    // once (reverse order: the row kernels' chunk barriers are what an order could expose); CI time
    it.runIf(order === 'reverse')(`row-wise attention (what long sequences run): every op, recompute, micro-batches, bf16, steps (threads ${order})`, { timeout: 900_000 }, async () => {
      const { status, out } = await benchCheck('cuda-check.ts', order, { MOE_CUDA_ATTENTION: 'rows' });
      expect(out).toContain('ALL PASS');
      expect(status, out).toBe(0);
    });

    it(`flash attention (tensor-core tiles) against the cpu backend, every instantiation, tiles cut by T (threads ${order})`, { timeout: 300_000 }, async () => {
      const { status, out } = await benchCheck('cuda-flash-check.ts', order);
      expect(out).toContain('ALL PASS');
      expect(out.match(/^PASS /gm)?.length, out).toBe(8); // 4 models × 2 shapes
      expect(status, out).toBe(0);
    });

    it(`the cached decoder: prefill, graph-replayed steps, greedy generate (threads ${order})`, { timeout: 300_000 }, async () => {
      const { status, out } = await benchCheck('cuda-decode-check.ts', order);
      expect(out).toContain('ALL PASS');
      expect(status, out).toBe(0);
    });

    it(`a GRPO policy update: objective, gradients, AdamW step, micro-batches (threads ${order})`, { timeout: 300_000 }, async () => {
      const { status, out } = await benchCheck('cuda-grpo-check.ts', order);
      expect(out).toContain('ALL PASS');
      expect(status, out).toBe(0);
    });
  }
});

/** The CLI in a child process (the emulator is loaded through MOE_CUDA_LIBRARY_PATH, read when cuda opens). */
function cli(args: readonly string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const entry = `import { main } from ${JSON.stringify(pathToFileURL(join(root, 'cli/main.ts')).href)}; process.exitCode = await main(process.argv.slice(1));`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
}

describe.skipIf(skip !== undefined)('--backend auto on the emulator', () => {
  it('moe generate takes cuda when it opens, says so, and decodes the ids the cpu backend does', { timeout: 300_000 }, () => {
    const checkpoint = join(mkdtempSync(join(tmpdir(), 'moe-emu-auto-')), 'ck');
    expect(cli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '5']).status).toBe(0);
    const args = ['generate', checkpoint, '--ids', '3,17,42', '--max-new-tokens', '3', '--json'];
    const auto = cli(args, { MOE_CUDA_LIBRARY_PATH: dir });
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/^backend cuda \(cuda works: moe CUDA emulator/m);
    const cpu = cli([...args, '--backend', 'cpu']);
    expect(cpu.status, cpu.stderr).toBe(0);
    expect((JSON.parse(auto.stdout) as { ids: number[] }).ids).toEqual((JSON.parse(cpu.stdout) as { ids: number[] }).ids);
  });
});
