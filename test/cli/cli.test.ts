/** The `moe` command: exit statuses, text and JSON output, explain, and the real binary once. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog } from '../../compiler/diagnostics/catalog.js';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');

function tempSpec(text: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'moe-cli-'));
  const file = join(dir, 'spec.moe');
  writeFileSync(file, text);
  return { dir, file };
}

const BROKEN = `model M {
  vocab = 256, dim = 64, layers = 1, context = 128
  attention gqa { heads = 6, kv_heads = 4 }
  layers 0..0 { ffn swiglu { hiden = 128 } }
}
`;

describe('moe check', () => {
  it('exits 0 on a clean spec and says ok', async () => {
    const r = await runCli(['check', 'examples/r1-tiny.moe'], repo);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('ok: checked 1 file');
  });

  it('exits 1 with rustc-style diagnostics for spec errors', async () => {
    const { dir } = tempSpec(BROKEN);
    const r = await runCli(['check', 'spec.moe'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[MOE4101]: kv_heads (4) does not divide heads (6)');
    expect(r.stderr).toContain(' --> spec.moe:3:41');
    expect(r.stderr).toContain('error[MOE2009]: unknown field `hiden`');
    expect(r.stderr).toContain('= help: did you mean `hidden`?');
    expect(r.stderr).toMatch(/\d+ errors: checked 1 file/);
  });

  it('prints JSON with positions on --json', async () => {
    const { dir } = tempSpec(BROKEN);
    const r = await runCli(['check', '--json', 'spec.moe'], dir);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { errors: number; files: { diagnostics: { code: string; line: number; col: number }[] }[] };
    const kv = out.files[0]!.diagnostics.find((d) => d.code === 'MOE4101');
    expect(kv).toMatchObject({ line: 3, col: 41 });
    expect(out.errors).toBeGreaterThanOrEqual(2);
  });

  it('prints the statistics table on --stats', async () => {
    const r = await runCli(['check', '--stats', 'examples/deepseek-v3.moe'], repo);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('671,026,404,352');
    expect(r.stdout).toMatch(/KV cache\/token\s+68\.6 KiB/);
    expect(r.stdout).toContain('stage base on h800');
  });

  it('exits 2 for usage errors: a missing file, an unknown option, no arguments', async () => {
    expect((await runCli(['check', 'nope.moe'], repo)).code).toBe(2);
    expect((await runCli(['check', '--frobnicate', 'examples/r1-tiny.moe'], repo)).code).toBe(2);
    expect((await runCli(['check'], repo)).code).toBe(2);
    expect((await runCli(['compile-everything'], repo)).code).toBe(2);
  });

  it('refuses imports outside the spec folder unless --allow-outside', async () => {
    const outer = tempSpec('const SHARED = 64\n');
    const inner = join(outer.dir, 'inner');
    execFileSync('mkdir', ['-p', inner]);
    writeFileSync(
      join(inner, 'spec.moe'),
      'import "../spec.moe"\ncluster c { devices = SHARED, memory = 80GiB }\n',
    );
    const refused = await runCli(['check', 'spec.moe'], inner);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('MOE2006');
    const allowed = await runCli(['check', '--allow-outside', 'spec.moe'], inner);
    expect(allowed.code).toBe(0);
  });
});

describe('moe explain', () => {
  it('prints the long explanation of a code', async () => {
    const r = await runCli(['explain', 'MOE4102']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('top_groups * experts / groups');
  });

  it('shows the values a message fills in as <name>, never as raw {placeholders}', async () => {
    const r = await runCli(['explain', 'MOE4102']);
    expect(r.stdout).toContain('top_k (<top_k>) exceeds');
    for (const code of Object.keys(catalog)) {
      const each = await runCli(['explain', code]);
      expect(each.stdout, code).not.toMatch(/\{\w+\}/);
    }
  });

  it('exits 2 on an unknown code with a suggestion', async () => {
    const r = await runCli(['explain', 'MOE4199']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown diagnostic code');
  });
});

describe('the installed binary', () => {
  it('runs `moe check` end to end without a stack trace on a broken file', () => {
    const { file } = tempSpec('model {{{ \u0000');
    const r = spawnSync(process.execPath, [join(repo, 'bin', 'moe.js'), 'check', file], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[MOE1005]');
    expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
  });
});
