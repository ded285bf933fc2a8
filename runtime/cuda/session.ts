/** A checkpoint opened on the cuda backend: `moe logits --backend cuda`. */
import { readCheckpoint } from '../io/checkpoint.js';
import { RuntimeError } from '../errors.js';
import { CudaModel } from './executor.js';
import { openCuda, type CudaRuntime } from './runtime.js';

export interface CudaSession {
  readonly description: string;
  readonly model: CudaModel;
}

export async function openCudaCheckpoint(dir: string, runtime?: CudaRuntime): Promise<CudaSession> {
  const checkpoint = readCheckpoint(dir);
  const gpu = runtime ?? (await openCuda());
  return { description: gpu.description, model: new CudaModel(gpu, checkpoint.model, checkpoint.params, checkpoint.state) };
}

/** Logits [T][V] for one sequence of token ids. */
export function cudaLogits(session: CudaSession, ids: readonly number[]): number[][] {
  const { model } = session.model;
  const vocab = model.params.find((p) => p.name === 'model.embed_tokens.weight')?.shape[0] ?? 0;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) throw new RuntimeError(`token id ${bad} is outside the vocabulary 0..${vocab - 1}`);
  const flat = session.model.forward(Int32Array.from(ids), 1, ids.length, ['logits']).get('logits')!;
  return Array.from({ length: ids.length }, (_, t) => Array.from(flat.subarray(t * vocab, (t + 1) * vocab)));
}
