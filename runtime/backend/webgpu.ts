/**
 * The webgpu backend as the executor sees it (registry.ts): its fused ops (webgpu-ops.ts) and its
 * capabilities — captured command graphs (webgpu-graph.ts), in-place writes (webgpu-copy.ts,
 * webgpu-columns.ts) and the AdamW shaders (webgpu-adamw.ts) — plus the stock kernels it replaces
 * inside tfjs (webgpu-fixes.ts, the tiled matmul of webgpu-matmul.ts). select.ts installs it once
 * it has started tfjs's webgpu backend.
 */
import type { BackendCapabilities } from './capabilities.js';
import { registerBackendCapabilities } from './registry.js';
import { adamwInPlace } from './webgpu-adamw.js';
import { writeColumnsInPlace } from './webgpu-columns.js';
import { copyInto } from './webgpu-copy.js';
import { applyWebgpuFixes } from './webgpu-fixes.js';
import { captureGraph } from './webgpu-graph.js';
import { webgpuBackend, type WebgpuBackendLike } from './webgpu-internals.js';
import { installTiledMatMul } from './webgpu-matmul.js';
import { registerWebgpuOps } from './webgpu-ops.js';

/** tfjs's webgpu backend object; called only while webgpu is the active backend. */
function active(): WebgpuBackendLike {
  const backend = webgpuBackend();
  if (backend === null) throw new Error('a webgpu capability used while another backend is active');
  return backend;
}

const WEBGPU: BackendCapabilities = {
  hostMemory: false,
  graphs: {
    capture: captureGraph,
    settled: () => active().device.queue.onSubmittedWorkDone(),
  },
  inPlace: {
    copy: (target, value) => copyInto(active(), target, value),
    writeColumns: (cache, fresh, at) => writeColumnsInPlace(active(), cache, fresh, at),
  },
  adamw: {
    update: (slot, step, constants, decay) => adamwInPlace(active(), slot, step, constants, decay),
  },
};

/** Makes the active tfjs webgpu backend ours (idempotent). */
export function installWebgpu(): void {
  // stock kernels that produce invalid GPU work (webgpu-fixes.ts)
  applyWebgpuFixes();
  // a faster fp32 matmul (webgpu-matmul.ts)
  installTiledMatMul();
  registerWebgpuOps();
  registerBackendCapabilities('webgpu', WEBGPU);
}
