/**
 * Backends: `cpu` (pure JS, everywhere), `wasm` (SIMD + threads), `webgpu` (Dawn through the npm
 * `webgpu` package; the GPU path), `tensorflow` (@tensorflow/tfjs-node-gpu, optional, needs CUDA
 * 11.2 + cuDNN 8.1). `auto` tries tensorflow → webgpu → the CPU default and says what it picked and
 * why; it probes each GPU backend in a child process first (probe.ts), so the native probing output
 * of a machine without a GPU is not printed (`--verbose` shows it). Backend packages are imported only when asked for. Starting a backend also registers what it
 * adds to the generic kernels (registry.ts: fused ops, capabilities), here and nowhere else.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { tf } from '../tf.js';
import { probeTensorflow, probeWebgpu, type ProbeResult } from './probe.js';
import { installWebgpu } from './webgpu.js';

export type BackendName = 'cpu' | 'wasm' | 'webgpu' | 'tensorflow';
export const BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu', 'tensorflow'];

/**
 * The CPU default, by measurement (`npm run bench backends`, r1-tiny, batch 4 × 64, 2-core machine):
 * wasm ran the forward pass 10.2× and forward+backward 8.0× faster than the cpu backend.
 */
export const CPU_DEFAULT: BackendName = 'wasm';

export interface Selected {
  readonly name: BackendName;
  /** why this backend, for the user */
  readonly reason: string;
}

const require = createRequire(import.meta.url);

interface Adapter {
  readonly info?: { readonly architecture?: string; readonly description?: string; readonly isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
}

function isSoftware(adapter: Adapter): boolean {
  return adapter.isFallbackAdapter === true || adapter.info?.isFallbackAdapter === true || adapter.info?.architecture === 'software';
}

async function activate(name: BackendName, options: { refuseSoftware?: boolean } = {}): Promise<void> {
  switch (name) {
    case 'cpu':
      break;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      // the .wasm binaries ship inside the package; point the loader at them on disk
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/');
      wasm.setWasmPaths(dist);
      break;
    }
    case 'webgpu': {
      const dawn = (await import('webgpu')) as unknown as { create: (flags: string[]) => unknown; globals: object };
      Object.assign(globalThis, dawn.globals);
      // navigator is read-only on Node ≥ 21; define it where it is missing
      if (!('gpu' in ((globalThis as { navigator?: object }).navigator ?? {}))) {
        Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.create([]) }, configurable: true });
      }
      // ask for an adapter first: tfjs would otherwise print a stack trace when there is none
      const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<Adapter | null> } } }).navigator.gpu;
      const adapter = await gpu.requestAdapter();
      if (!adapter) {
        throw new RuntimeError('no WebGPU adapter: Dawn found no Vulkan driver on this machine', 'install a Vulkan driver (e.g. Mesa lavapipe for the CPU) or use --backend cpu');
      }
      // a software adapter (Mesa lavapipe) is right for testing kernels but slower than wasm
      if (options.refuseSoftware && isSoftware(adapter)) {
        throw new RuntimeError(`the only WebGPU adapter is a software one (${adapter.info?.description ?? 'fallback'})`);
      }
      await import('@tensorflow/tfjs-backend-webgpu');
      // our kernels, fused ops and capabilities (graphs, in-place writes) for webgpu (webgpu.ts)
      installWebgpu();
      break;
    }
    case 'tensorflow':
      try {
        await import(/* optional dependency */ '@tensorflow/tfjs-node-gpu' as string);
      } catch (error) {
        throw new RuntimeError(
          `the tensorflow backend is not available: ${(error as Error).message.split('\n')[0]}`,
          'it needs @tensorflow/tfjs-node-gpu, whose installer downloads libtensorflow 2.9.1 for CUDA 11.2 + cuDNN 8.1: ' +
            'on a machine with those and network access, run `npm install @tensorflow/tfjs-node-gpu`; otherwise use --backend webgpu or cpu',
        );
      }
      break;
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new RuntimeError(`the ${name} backend could not start on this machine`);
  await tf.ready();
}

/**
 * Where `auto` reports each probe and its captured native output: nowhere unless the CLI's
 * `--verbose` sets it (once, in cli/main.ts), so every caller of selectBackend is quiet alike.
 */
let probeLog: ((line: string) => void) | undefined;

export function setProbeLog(log: ((line: string) => void) | undefined): void {
  probeLog = log;
}

const PROBES: Readonly<Record<'tensorflow' | 'webgpu', () => Promise<ProbeResult>>> = { tensorflow: probeTensorflow, webgpu: probeWebgpu };

function logProbe(candidate: string, problem: string | undefined, output: string): void {
  if (!probeLog) return;
  probeLog(`backend probe ${candidate}: ${problem ?? 'usable'}`);
  for (const line of output.split('\n').filter((l) => l.trim() !== '')) probeLog(`  | ${line}`);
}

/** Makes `name` the active backend; `auto` tries the fastest first. */
export async function selectBackend(name: BackendName | 'auto'): Promise<Selected> {
  if (name !== 'auto') {
    await activate(name);
    return { name, reason: 'as asked' };
  }
  const tried: string[] = [];
  for (const candidate of ['tensorflow', 'webgpu'] as const) {
    const probe = await PROBES[candidate]();
    logProbe(candidate, probe.problem, probe.output);
    if (probe.problem !== undefined) {
      tried.push(`${candidate}: ${probe.problem}`);
      continue;
    }
    try {
      await activate(candidate, { refuseSoftware: true });
      return { name: candidate, reason: tried.length ? `${tried.join('; ')}; ${candidate} works` : `${candidate} works` };
    } catch (error) {
      const problem = (error as Error).message.split('\n')[0]!;
      probeLog?.(`backend ${candidate}: ${problem}`);
      tried.push(`${candidate}: ${problem}`);
    }
  }
  probeLog?.(`backend ${CPU_DEFAULT}: the CPU default`);
  await activate(CPU_DEFAULT);
  return { name: CPU_DEFAULT, reason: `${tried.join('; ')}; using the CPU default` };
}
