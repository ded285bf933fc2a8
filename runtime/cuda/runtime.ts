/**
 * Opens the cuda backend: finds the libraries (libraries.ts), opens device 0 and cuBLASLt, loads the
 * shipped PTX. One line says what was found; anything missing is a RuntimeError naming the library
 * and how to get it (never a stack trace).
 */
import { RuntimeError } from '../errors.js';
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
