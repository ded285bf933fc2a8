/** `moe plot RUN [-o FILE]`: writes RUN/plot.svg (or FILE), prints the path, refuses bad input with exit 2. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

describe('moe plot', () => {
  let root: string;
  let run: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'moe-plot-'));
    run = join(root, 'base');
    mkdirSync(run);
    const lines = [1, 2, 3].map((step) =>
      JSON.stringify({
        step,
        loss: 7 - step,
        lr: 1e-3 * step,
        grad_norm: 1,
        tokens_per_s: 600,
        load: { 'h.2.ffn_out.load': [3, 1, 2, 2], 'mtp.1.h.ffn_out.load': [1, 1, 1, 5] },
        balance: { 'h.2.ffn_out.load': 1.5, 'mtp.1.h.ffn_out.load': 2.5 },
        ...(step === 3 ? { valid_loss: 4.5 } : {}),
      }),
    );
    writeFileSync(join(run, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  });

  it('writes RUN/plot.svg and prints its path', async () => {
    const r = await runCli(['plot', 'base'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join('base', 'plot.svg')}\n`);
    const svg = readFileSync(join(run, 'plot.svg'), 'utf8');
    expect(svg).toMatch(/^<\?xml/);
    expect(svg).toContain('base: 3 steps');
    expect(svg).toContain('layer 1: expert load');
    expect(svg).toContain('MTP 1: expert load');
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('writes where -o says', async () => {
    const r = await runCli(['plot', run, '-o', 'pictures/run.svg'], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join('pictures', 'run.svg')}\n`);
    expect(existsSync(join(root, 'pictures', 'run.svg'))).toBe(true);
  });

  it('refuses a missing folder, a folder without metrics.jsonl, an empty one and a non-SVG output', async () => {
    const missing = await runCli(['plot', 'nope'], root);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: run folder `nope` does not exist/);

    mkdirSync(join(root, 'empty-run'));
    const noMetrics = await runCli(['plot', 'empty-run'], root);
    expect(noMetrics.code).toBe(2);
    expect(noMetrics.stderr).toContain('has no metrics.jsonl');

    writeFileSync(join(root, 'empty-run', 'metrics.jsonl'), '');
    const noRecords = await runCli(['plot', 'empty-run'], root);
    expect(noRecords.code).toBe(2);
    expect(noRecords.stderr).toContain('has no records yet');

    const png = await runCli(['plot', 'base', '-o', 'plot.png'], root);
    expect(png.code).toBe(2);
    expect(png.stderr).toContain('moe plot writes SVG');
    expect(existsSync(join(root, 'plot.png'))).toBe(false);

    expect((await runCli(['plot'], root)).code).toBe(2);
  });
});
