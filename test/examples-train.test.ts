/**
 * The example a new user runs first: pretraining examples/r1-tiny.moe on the CPU default (wasm)
 * learns visibly in about a minute. Validation loss on held-out arithmetic must fall by at least
 * half from its initial value (measured: 5.75 → 0.76 in 60 steps, 69 s on a 2-core machine).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../runtime/run/metrics.js';
import { runCli } from './helpers.js';

const repo = join(import.meta.dirname, '..');

describe('examples/r1-tiny.moe pretraining', () => {
  it('halves the validation loss on the CPU default', { timeout: 600_000 }, async () => {
    const run = mkdtempSync(join(tmpdir(), 'moe-r1-tiny-'));
    const r = await runCli(['train', 'examples/r1-tiny.moe', '--backend', 'wasm', '--out', run], repo);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.code).toBe(0);
    const valid = readMetrics(run).filter((m) => typeof m.valid_loss === 'number').map((m) => m.valid_loss as number);
    expect(valid.length).toBeGreaterThanOrEqual(2);
    expect(valid.at(-1)!).toBeLessThan(valid[0]! * 0.5);
  });
});
