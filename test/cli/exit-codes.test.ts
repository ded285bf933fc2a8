/**
 * Issue 19: the same kind of mistake exits with the same status in every command (cli/io.ts EXIT):
 * a file or folder named on the command line that does not exist, an unknown flag and a name the
 * spec lacks are usage errors (2); a spec with errors and data that is not what it should be are 1.
 * On 557c2c5 a missing checkpoint exited 1 from `moe logits` and `moe generate` but 2 from
 * `moe export`, a wrong `--stage` exited 1 and a wrong `moe run` target 2, and bad `--prompts`
 * lines exited 2 while bad `moe score --input` lines exited 1.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');
const spec = join(repo, 'examples', 'r1-tiny.moe');

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-exit-'));
  writeFileSync(join(dir, 'bad.moe'), 'model M {\n  vocab = 256, dim = 64, layers = 1, context = 128\n  attention gqa { heads = 6, kv_heads = 4 }\n  layers 0..0 { ffn swiglu { hiden = 128 } }\n}\n');
  writeFileSync(join(dir, 'prompts.jsonl'), '{"prompt": "1+1="}\nnot json\n');
  writeFileSync(join(dir, 'rows.jsonl'), '{"completion": "4"}\nnot json\n');
  return dir;
}

/** [what, argv (with DIR for the workspace), expected status, stderr pattern] */
type Row = readonly [string, readonly string[], number, RegExp];

const rows: readonly Row[] = [
  // a missing file or folder named on the command line: 2, in every command
  ['check, missing file', ['check', 'DIR/nope.moe'], 2, /^error: no such file: .*nope\.moe$/m],
  ['compile, missing file', ['compile', 'DIR/nope.moe'], 2, /no such file/],
  ['fmt, missing file', ['fmt', 'DIR/nope.moe'], 2, /cannot read/],
  ['train, missing file', ['train', 'DIR/nope.moe'], 2, /no such file/],
  ['run, missing file', ['run', 'DIR/nope.moe'], 2, /no such file/],
  ['init, missing file', ['init', 'DIR/nope.moe', '-o', 'DIR/ck'], 2, /no such file/],
  ['score, missing file', ['score', spec, 'r1', '--input', 'DIR/nope.jsonl'], 2, /no such file/],
  ['import, missing folder', ['import', 'hf', 'DIR/nope', '-o', 'DIR/out'], 2, /no such folder/],
  ['export, missing folder', ['export', 'hf', 'DIR/nope', '-o', 'DIR/out'], 2, /no such folder/],
  ['plot, missing folder', ['plot', 'DIR/nope'], 2, /does not exist/],
  ['logits, missing checkpoint', ['logits', 'DIR/nope', '--ids', '1', '--backend', 'cpu'], 2, /^error: no such folder: .*nope$/m],
  ['generate, missing checkpoint', ['generate', 'DIR/nope', '--prompt', 'a', '--backend', 'cpu'], 2, /^error: no such folder: .*nope$/m],
  ['generate, missing --prompts', ['generate', 'DIR', '--prompts', 'DIR/nope.jsonl', '--backend', 'cpu'], 2, /no such file/],
  // a name the spec lacks: 2, as `moe run`'s target and `moe score`'s reward
  ['train, unknown --stage', ['train', spec, '--stage', 'nope'], 2, /^error: the spec has no stage nope/m],
  ['train, --stage of another kind', ['train', spec, '--stage', 'reason'], 2, /reason is a grpo stage/],
  ['run, unknown target', ['run', spec, 'nope', '-o', 'DIR/runs'], 2, /nope/],
  ['score, unknown reward', ['score', spec, 'nope', '--completion', '4'], 2, /no reward `nope`/],
  // a spec with errors: 1
  ['check, bad spec', ['check', 'DIR/bad.moe'], 1, /MOE2009/],
  ['compile, bad spec', ['compile', 'DIR/bad.moe', '-o', 'DIR/out'], 1, /MOE2009/],
  ['train, bad spec', ['train', 'DIR/bad.moe'], 1, /MOE2009/],
  ['run, bad spec', ['run', 'DIR/bad.moe'], 1, /MOE2009/],
  ['init, bad spec', ['init', 'DIR/bad.moe', '-o', 'DIR/ck'], 1, /MOE2009/],
  ['score, bad spec', ['score', 'DIR/bad.moe', 'r1', '--completion', '4'], 1, /MOE2009/],
  // data that is not what it should be: 1
  ['generate, a --prompts line that is not JSON', ['generate', 'DIR', '--prompts', 'DIR/prompts.jsonl', '--backend', 'cpu'], 1, /prompts\.jsonl:2: not JSON/],
  ['score, an --input line that is not JSON', ['score', spec, 'r1', '--input', 'DIR/rows.jsonl'], 1, /rows\.jsonl:2/],
];

const commands = ['check', 'compile', 'fmt', 'train', 'run', 'init', 'score', 'import', 'export', 'plot', 'logits', 'generate', 'explain'];
/** the options a command requires, so that the unknown flag is the only mistake */
const required: Readonly<Record<string, readonly string[]>> = { init: ['-o', 'out'], import: ['-o', 'out'], export: ['-o', 'out'], logits: ['--ids', '1'] };

describe('exit statuses, the same kind of mistake the same status in every command', () => {
  it.each(rows)('%s', async (_what, argv, status, message) => {
    const dir = workspace();
    const r = await runCli(argv.map((a) => a.replace(/^DIR/, dir)), dir);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(status);
  });

  it.each(commands)('%s exits 2 on an unknown flag', async (command) => {
    const r = await runCli([command, ...(required[command] ?? []), '--frobnicate', 'x', 'y'], workspace());
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
    expect(r.code).toBe(2);
  });
});

describe('-o in every command that writes a folder or a file', () => {
  it.each(['compile', 'train', 'run', 'init', 'import', 'export', 'generate', 'plot'])('%s takes -o, --out', async (command) => {
    const r = await runCli([command, '--help'], repo);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+-o, --out <(dir|file)>/m);
  });
});
