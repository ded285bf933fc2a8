/** `moe plot RUN [-o FILE]`: writes RUN/plot.svg (or FILE), prints the path, refuses bad input with exit 2. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendMetrics } from '../../runtime/run/metrics.js';
import { adoptFolder, ownedEntries } from '../../runtime/run/ownership.js';
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

  it('overlays several runs into the -o file, one line per run; several runs without -o is a usage error', async () => {
    const other = join(root, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'metrics.jsonl'), `${[1, 2, 3, 4, 5].map((step) => JSON.stringify({ step, loss: 8 - step, lr: 2e-3 })).join('\n')}\n`);
    const r = await runCli(['plot', 'base', 'other', '-o', 'both.svg'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('both.svg\n');
    const svg = readFileSync(join(root, 'both.svg'), 'utf8');
    expect(svg).toContain('2 runs: base, other');
    expect(svg).toMatch(/<polyline class="loss-run-0"[^>]* points="(\S+ ){2}\S+"/);
    expect(svg).toMatch(/<polyline class="loss-run-1"[^>]* points="(\S+ ){4}\S+"/);
    expect(svg).toMatch(/<g class="valid-loss-run-0-points"[^>]*><circle[^>]*\/><\/g>/);
    expect(svg).not.toContain('valid-loss-run-1');
    expect(svg).toMatch(/>other</);
    const missing = await runCli(['plot', 'base', 'other'], root);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: plotting 2 runs together needs -o FILE\.svg/);
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

  it('never replaces a plot.svg that moe did not write: refused with exit 1, the file intact; its own plot it rewrites', async () => {
    // a run folder of moe's (it holds .moe-run.json) where the user keeps a figure of their own
    const owned = join(root, 'owned');
    adoptFolder(owned, () => false);
    appendMetrics(owned, { step: 1, loss: 3 });
    writeFileSync(join(owned, 'plot.svg'), '<svg>my hand-made figure</svg>\n');
    const refused = await runCli(['plot', 'owned'], root);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: owned\/plot\.svg was not written by moe; it is left as it is\nhelp: write the plot elsewhere with -o FILE\.svg/);
    expect(readFileSync(join(owned, 'plot.svg'), 'utf8')).toBe('<svg>my hand-made figure</svg>\n');
    expect(ownedEntries(owned)).toEqual(['metrics.jsonl', 'events.out.tfevents.moe']);

    // a folder that is not moe's: a new plot.svg only, an existing one is the user's
    const foreign = await runCli(['plot', 'base'], root);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(/^error: base\/plot\.svg was not written by moe/);

    // once the user's figure is gone, moe lists its plot before writing it and may rewrite it
    rmSync(join(owned, 'plot.svg'));
    expect((await runCli(['plot', 'owned'], root)).code).toBe(0);
    expect(ownedEntries(owned)).toEqual(['metrics.jsonl', 'events.out.tfevents.moe', 'plot.svg']);
    appendMetrics(owned, { step: 2, loss: 2 });
    expect((await runCli(['plot', 'owned'], root)).code).toBe(0);
    expect(readFileSync(join(owned, 'plot.svg'), 'utf8')).toContain('owned: 2 steps');
  });
});
