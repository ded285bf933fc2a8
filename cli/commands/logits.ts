/** `moe logits CHECKPOINT --ids 3,17,42 [--json] [--backend NAME]`: logits at every position. */
import { BACKENDS, type BackendName } from '../../runtime/backend/select.js';
import { cudaFor } from '../../runtime/cuda/runtime.js';
import { cudaLogits, openCudaCheckpoint } from '../../runtime/cuda/session.js';
import { logitsFor, openCheckpoint, type Session } from '../../runtime/session.js';
import { loadGraph } from '../../runtime/load.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface LogitsOptions {
  readonly ids: string;
  readonly json?: boolean;
  readonly backend?: string;
}

export function parseIds(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UsageError(`--ids takes comma-separated token ids, e.g. 3,17,42; found \`${text}\``);
  }
  return parts.map(Number);
}

/**
 * A tfjs backend choice. The cuda backend is an executor of the IR of its own, not a tfjs backend:
 * every command takes `cuda` (runtime/cuda/runtime.ts cudaFor) before asking for a tfjs backend.
 */
export function parseBackend(name: string | undefined): BackendName | 'auto' {
  const value = name ?? 'auto';
  if (value !== 'auto' && !(BACKENDS as readonly string[]).includes(value)) {
    throw new UsageError(`unknown backend \`${value}\`; backends: auto, ${BACKENDS.join(', ')}, cuda`);
  }
  return value as BackendName | 'auto';
}

/** The top entries of a row, for the human view. */
function top(row: readonly number[], k: number): [number, number][] {
  return row
    .map((v, i) => [i, v] as [number, number])
    .sort((a, b) => b[1] - a[1])
    .slice(0, k);
}

async function logitsOn(dir: string, backend: string | undefined, ids: readonly number[]): Promise<{ logits: number[][]; header: string }> {
  // the checkpoint's models, for cuda to refuse what it does not implement (a missing graph is openCheckpoint's to report)
  const graph = join(dir, 'graph.json');
  const opened = await cudaFor(backend, undefined, existsSync(graph) ? loadGraph(graph).models : []);
  if (opened) {
    const session = await openCudaCheckpoint(dir, opened.runtime);
    try {
      return { logits: cudaLogits(session, ids), header: `backend cuda (${session.description}); model ${session.model.model.name}` };
    } finally {
      session.model.dispose();
    }
  }
  const session: Session = await openCheckpoint(dir, parseBackend(backend));
  try {
    return { logits: await logitsFor(session, ids), header: `backend ${session.backend.name} (${session.backend.reason}); model ${session.model.name}` };
  } finally {
    session.store.dispose();
  }
}

export async function runLogits(checkpoint: string, options: LogitsOptions, io: CliIo): Promise<number> {
  const ids = parseIds(options.ids);
  const { logits, header } = await logitsOn(existingPath(io, checkpoint, 'folder'), options.backend, ids);
  if (options.json) {
    io.stdout(`${JSON.stringify({ logits })}\n`);
    return EXIT.ok;
  }
  io.stderr(`${header}\n`);
  logits.forEach((row, t) => {
    const best = top(row, 5)
      .map(([i, v]) => `${i}:${v.toFixed(4)}`)
      .join('  ');
    io.stdout(`position ${t} (id ${ids[t]}): top ${best}\n`);
  });
  io.stdout('(--json prints every logit)\n');
  return EXIT.ok;
}
