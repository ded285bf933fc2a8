/**
 * Overrides of tfjs-backend-webgpu 4.22 kernels that generate invalid GPU work, registered when
 * the webgpu backend is activated (select.ts). Each fix wraps the stock kernel and changes only how
 * the work is split, never the math; bench/NOTES.md ("webgpu correctness") has the measurements.
 *
 * AddN: the stock kernel binds every input as its own storage buffer in one shader. tfjs requests
 * a device with the WebGPU default of 8 storage buffers per shader stage (one is the output), so an
 * AddN of more than 7 tensors makes Dawn reject the pipeline; the command buffer holding it is then
 * invalid and the sum reads as whatever the output buffer held before (training's global gradient
 * norm, an AddN of one term per parameter, came out as garbage). Concat in the same package already
 * splits its inputs this way; AddN does not. The override sums chunks of at most 7 inputs, then the
 * partial sums, the same tree as Concat's.
 */
import { tf } from '../tf.js';

const BACKEND = 'webgpu';

/** The part of the webgpu backend a fix reads: its device limits and buffer release. */
interface WebgpuBackendLike {
  readonly device: { readonly limits: { readonly maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): void;
}

/** Re-registers `kernelName` for webgpu as `wrap(stock kernel)`; idempotent (a fixed kernel is marked). */
function override(kernelName: string, wrap: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(kernelName, BACKEND);
  if (!stock) throw new Error(`tfjs-backend-webgpu has no ${kernelName} kernel to fix`);
  if (fixed.has(stock.kernelFunc)) return;
  const kernelFunc = wrap(stock.kernelFunc);
  fixed.add(kernelFunc);
  tf.unregisterKernel(kernelName, BACKEND);
  tf.registerKernel({ ...stock, kernelFunc });
}

const fixed = new WeakSet<tf.KernelFunc>();

/** AddN in chunks that fit the device's storage-buffer limit (see the file comment). */
function chunkedAddN(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WebgpuBackendLike;
    // one storage buffer is the output
    const most = backend.device.limits.maxStorageBuffersPerShaderStage - 1;
    let terms = Object.values(args.inputs) as tf.TensorInfo[];
    const partials: tf.TensorInfo[] = [];
    while (terms.length > most) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < terms.length; i += most) {
        const chunk = terms.slice(i, i + most);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const sum = stock({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
        partials.push(sum);
        next.push(sum);
      }
      terms = next;
    }
    const result = stock({ ...args, inputs: terms as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
    for (const p of partials) backend.disposeData(p.dataId);
    return result;
  };
}

/** Registers every fix; called once the webgpu backend's kernels are registered. */
export function applyWebgpuFixes(): void {
  override('AddN', chunkedAddN);
}
