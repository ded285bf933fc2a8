/**
 * The webgpu backend (Dawn) on Mesa's lavapipe, a Vulkan driver that runs on the CPU, so every CI
 * run checks the WebGPU path without a GPU: the HF cross-check models give HF's logits there too.
 * `.ci/run` installs lavapipe (mesa-vulkan-drivers from bookworm-backports); on a machine without it
 * this file is skipped, and says so.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../runtime/backend/select.js';
import { importHf } from '../../interop/hf/import.js';
import { readCheckpoint } from '../../runtime/io/checkpoint.js';
import { forward } from '../../runtime/model/forward.js';
import { ParamStore } from '../../runtime/model/params.js';
import { tf } from '../../runtime/tf.js';

const LAVAPIPE = '/usr/share/vulkan/icd.d/lvp_icd.json';
const available = existsSync(LAVAPIPE);
const reference = join(import.meta.dirname, '..', 'reference', 'hf');

// Skipped only where lavapipe is not installed (see the header): CI installs it.
describe.skipIf(!available)('the webgpu backend on lavapipe', () => {
  beforeAll(async () => {
    process.env.VK_ICD_FILENAMES = LAVAPIPE;
    const selected = await selectBackend('webgpu');
    expect(selected.name).toBe('webgpu');
  });

  // qwen2-moe-sliding-micro: a sliding window (layer 0) and q/k/v biases, which the other two lack
  for (const name of ['deepseek-v3-micro', 'mixtral-micro', 'qwen2-moe-sliding-micro']) {
    it(`${name}: HF's logits within 1e-4 relative`, async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'moe-webgpu-')), 'checkpoint');
      importHf(join(reference, name), out);
      const checkpoint = readCheckpoint(out);
      const store = ParamStore.fromTensors(checkpoint.model, checkpoint.params, checkpoint.state);
      const ref = JSON.parse(readFileSync(join(reference, `${name}.logits.json`), 'utf8')) as { ids: number[][]; logits: number[][][] };
      const ids = tf.tensor2d(ref.ids, [ref.ids.length, ref.ids[0]!.length], 'int32');
      const logits = forward(checkpoint.model, store, { inputIds: ids }, ['logits']).get('logits')!;
      const ours = (await logits.array()) as number[][][];
      let diff = 0;
      let scale = 0;
      ref.logits.forEach((b, i) => b.forEach((t, j) => t.forEach((v, k) => {
        diff = Math.max(diff, Math.abs(ours[i]![j]![k]! - v));
        scale = Math.max(scale, Math.abs(v));
      })));
      // measured on lavapipe: 3.1e-6 (deepseek_v3 micro)
      expect(diff / scale).toBeLessThan(1e-4);
      logits.dispose();
      store.dispose();
    });
  }
});
