/**
 * Opens the cuda backend: finds the libraries (libraries.ts), opens device 0 and cuBLASLt, loads the
 * shipped PTX. One line says what was found; anything missing is a RuntimeError naming the library
 * and how to get it (never a stack trace).
 */
import { RuntimeError } from '../errors.js';
import type { ModelGraph } from '../../ir/types.js';
import { refuseUnsupported } from './unsupported.js';
import { CublasLt } from './cublaslt.js';
import { CudaDriver } from './driver.js';
import { PTX } from './kernels.generated.js';
import { findLibrary, type SearchHost } from './libraries.js';
import type { Gpu } from './ops/index.js';
import { nodeSearchHost } from './search-host.js';

export interface CudaRuntime extends Gpu {
  /** one line for the user: device, driver, cuBLASLt and where they came from */
  readonly description: string;
}

export async function openCuda(host: SearchHost = nodeSearchHost()): Promise<CudaRuntime> {
  const driverLib = findLibrary('driver', host);
  if (!driverLib.ok) throw new RuntimeError(`no CUDA: ${driverLib.message}`, driverLib.hint);
  const ltLib = findLibrary('cublasLt', host);
  if (!ltLib.ok) throw new RuntimeError(`no cuBLASLt: ${ltLib.message}`, ltLib.hint);
  const driver = await CudaDriver.open(driverLib.path);
  const lt = await CublasLt.open(ltLib.path, driver);
  const lookups = Object.values(PTX).map((ptx) => driver.loadModule(ptx));
  const kernels = new Map<string, unknown>();
  const kernel = (name: string): unknown => {
    let fn = kernels.get(name);
    if (fn === undefined) {
      const errors: string[] = [];
      for (const lookup of lookups) {
        try {
          fn = lookup(name);
          break;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (fn === undefined) throw new RuntimeError(`no CUDA kernel ${name}: ${errors.join('; ')}`);
      kernels.set(name, fn);
    }
    return fn;
  };
  const { info } = driver;
  const description = `${info.name} (compute ${info.computeCapability}, ${(info.totalBytes / 2 ** 30).toFixed(0)} GiB), driver ${info.driverVersion}, cuBLASLt ${lt.version()} from ${ltLib.path}`;
  return { driver, lt, kernel, description };
}

/**
 * The cuda runtime a `--backend` choice asks for: `cuda` must open and implement every feature of
 * `models` (either failure is the user's one-line error); `auto` (or no choice) takes it when it
 * opens and implements them, and otherwise falls back quietly to the tfjs backends; any other
 * choice never opens it.
 */
export async function cudaFor(
  choice: string | undefined,
  host?: SearchHost,
  models: readonly ModelGraph[] = [],
): Promise<{ readonly runtime: CudaRuntime; readonly reason: string } | undefined> {
  const asked = choice ?? 'auto';
  if (asked === 'cuda') {
    refuseUnsupported(models);
    const runtime = await openCuda(host);
    return { runtime, reason: `as asked: ${runtime.description}` };
  }
  if (asked !== 'auto') return undefined;
  try {
    refuseUnsupported(models);
    const runtime = await openCuda(host);
    return { runtime, reason: `cuda works: ${runtime.description}` };
  } catch (error) {
    if (error instanceof RuntimeError) return undefined;
    throw error;
  }
}
