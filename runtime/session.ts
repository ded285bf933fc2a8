/**
 * A loaded model ready to run: the backend chosen, the checkpoint read and checked, the parameters
 * on the device. `moe logits` and `moe generate` on the tfjs backends start from here (runtime/cuda/session.ts is the cuda counterpart).
 */
import type { GraphDocument, ModelGraph } from '../ir/types.js';
import { selectBackend, type BackendName, type Selected } from './backend/select.js';
import { readCheckpoint } from './io/checkpoint.js';
import { forward } from './model/forward.js';
import { ParamStore } from './model/params.js';
import { RuntimeError } from './errors.js';
import { tf } from './tf.js';

export interface Session {
  readonly backend: Selected;
  readonly document: GraphDocument;
  readonly model: ModelGraph;
  readonly store: ParamStore;
}

export async function openCheckpoint(dir: string, backend: BackendName | 'auto'): Promise<Session> {
  const selected = await selectBackend(backend);
  const checkpoint = readCheckpoint(dir);
  const store = ParamStore.fromTensors(checkpoint.model, checkpoint.params, checkpoint.state);
  return { backend: selected, document: checkpoint.document, model: checkpoint.model, store };
}

/** Logits [T][V] for one sequence of token ids. */
export async function logitsFor(session: Session, ids: readonly number[]): Promise<number[][]> {
  const vocab = session.model.params.find((p) => p.name === 'model.embed_tokens.weight')?.shape[0] ?? 0;
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
  if (bad !== undefined) throw new RuntimeError(`token id ${bad} is outside the vocabulary 0..${vocab - 1}`);
  const context = session.model.config.context;
  if (typeof context === 'number' && ids.length > context) throw new RuntimeError(`${ids.length} tokens exceed the model context ${context}`);
  const inputIds = tf.tensor2d([...ids], [1, ids.length], 'int32');
  const out = forward(session.model, session.store, { inputIds }, ['logits']);
  const logits = out.get('logits')!;
  const values = (await logits.array()) as number[][][];
  logits.dispose();
  inputIds.dispose();
  return values[0]!;
}
