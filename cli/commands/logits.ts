/** `moe logits CHECKPOINT --ids 3,17,42 [--json] [--backend NAME]`: logits at every position. */
import { resolve } from 'node:path';
import { BACKENDS, type BackendName } from '../../runtime/backend/select.js';
import { logitsFor, openCheckpoint } from '../../runtime/session.js';
import { EXIT, UsageError, type CliIo } from '../io.js';

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

export function parseBackend(name: string | undefined): BackendName | 'auto' {
  const value = name ?? 'auto';
  if (value !== 'auto' && !(BACKENDS as readonly string[]).includes(value)) {
    throw new UsageError(`unknown backend \`${value}\`; backends: auto, ${BACKENDS.join(', ')}`);
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

export async function runLogits(checkpoint: string, options: LogitsOptions, io: CliIo): Promise<number> {
  const ids = parseIds(options.ids);
  const session = await openCheckpoint(resolve(io.cwd, checkpoint), parseBackend(options.backend));
  try {
    const logits = await logitsFor(session, ids);
    if (options.json) {
      io.stdout(`${JSON.stringify({ logits })}\n`);
      return EXIT.ok;
    }
    io.stderr(`backend ${session.backend.name} (${session.backend.reason}); model ${session.model.name}\n`);
    logits.forEach((row, t) => {
      const best = top(row, 5)
        .map(([i, v]) => `${i}:${v.toFixed(4)}`)
        .join('  ');
      io.stdout(`position ${t} (id ${ids[t]}): top ${best}\n`);
    });
    io.stdout('(--json prints every logit)\n');
    return EXIT.ok;
  } finally {
    session.store.dispose();
  }
}
