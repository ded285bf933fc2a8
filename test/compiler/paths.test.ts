/**
 * Issue 17, item 9: the spec-folder rule (MOE2006) holds for real paths, for every match of a glob,
 * and for files a checkpoint names; only regular files are read, the size cap checked first. On
 * 557c2c5 a symlink inside the folder to a file outside was imported and its lines quoted, a symlink
 * to /dev/zero or a named pipe hung `moe check`, a glob skipped the rule, and a checkpoint's
 * graph.json could have any file read as its tokenizer (and its first line echoed by JSON.parse).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRegularFile } from '../../util/files.js';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import type { GraphDocument } from '../../ir/types.js';
import { readSource } from '../../runtime/data/sources.js';
import { RuntimeError } from '../../runtime/errors.js';
import { checkpointTokenizer } from '../../runtime/infer/checkpoint-tokenizer.js';
import { runCli } from '../helpers.js';

const SECRET = 'root:SECRET-HASH-1234:19000:0:99999:7:::';
const cli = new URL('./paths-cli.mts', import.meta.url).pathname;

/** tmp/outside/secret (not JSON, not a spec) and an empty tmp/spec folder */
function layout(): { top: string; spec: string; secret: string } {
  const top = mkdtempSync(join(tmpdir(), 'moe-paths-'));
  mkdirSync(join(top, 'outside'));
  mkdirSync(join(top, 'spec'));
  const secret = join(top, 'outside', 'secret');
  writeFileSync(secret, `${SECRET}\nmore lines of the secret\n`);
  return { top, spec: join(top, 'spec'), secret };
}

/** `moe check` in a child process: a reader that blocks must not take the test runner with it. */
function checkInChild(args: string[]): { status: number | null; stderr: string } {
  const repo = new URL('../..', import.meta.url).pathname; // where `--import tsx` resolves
  const r = spawnSync(process.execPath, ['--import', 'tsx', cli, 'check', ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

describe('symlinks and the spec folder', () => {
  it('refuses an import through a symlink that leaves the folder, by real path, and never quotes the file', async () => {
    const { spec, secret } = layout();
    symlinkSync(secret, join(spec, 'shared.moe'));
    writeFileSync(join(spec, 'main.moe'), 'import "shared.moe"\n');
    const r = await runCli(['check', 'main.moe'], spec);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[MOE2006]: path `shared.moe` leaves the spec folder');
    expect(r.stderr).not.toContain('SECRET');
    // --allow-outside still permits it, as for a path written outside
    expect((await runCli(['check', '--allow-outside', 'main.moe'], spec)).stderr).toContain('SECRET');
  });

  it('refuses a data source or tokenizer file that is a symlink out of the folder', () => {
    const { spec, secret } = layout();
    symlinkSync(secret, join(spec, 'corpus.txt'));
    writeFileSync(join(spec, 'main.moe'), 'data d { source = "corpus.txt" }\n');
    const result = checkFile(join(spec, 'main.moe'), nodeHost);
    expect(result.diagnostics.map((d) => d.code)).toEqual(['MOE2006']);
  });

  it('refuses an import of a named pipe or of /dev/zero at once, unread, instead of hanging', () => {
    const { spec } = layout();
    execFileSync('mkfifo', [join(spec, 'pipe.moe')]);
    symlinkSync('/dev/zero', join(spec, 'zero.moe'));
    writeFileSync(join(spec, 'main.moe'), 'import "pipe.moe"\nimport "zero.moe"\n');
    // /dev/zero is outside the folder: --allow-outside lets the reader itself refuse it
    const r = checkInChild(['--allow-outside', join(spec, 'main.moe')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error[MOE2004]: cannot read \`${join(spec, 'pipe.moe')}\`: it is a named pipe, not a regular file`);
    expect(r.stderr).toContain(`error[MOE2004]: cannot read \`${join(spec, 'zero.moe')}\`: it is a character device, not a regular file`);
  });

  it('reads only regular files, the size cap checked before reading', () => {
    const { spec } = layout();
    const pipe = join(spec, 'pipe');
    execFileSync('mkfifo', [pipe]);
    expect(readRegularFile(pipe, 1024)).toBe('it is a named pipe, not a regular file');
    expect(readRegularFile('/dev/zero', 1024)).toBe('it is a character device, not a regular file');
    writeFileSync(join(spec, 'big'), 'x'.repeat(2048));
    expect(readRegularFile(join(spec, 'big'), 1024)).toBe('it is 2048 bytes, over the limit of 1024');
    expect(new TextDecoder().decode(readRegularFile(join(spec, 'big'), 4096) as Uint8Array)).toHaveLength(2048);
  });
});

describe('globs and the spec folder', () => {
  it('refuses a glob that searches outside the folder: an absolute one, or one through ..', () => {
    const { spec } = layout();
    for (const source of ['/etc/pass*', '../*', '../outside/sec?et']) {
      writeFileSync(join(spec, 'main.moe'), `data d { source = "${source}" }\n`);
      const result = checkFile(join(spec, 'main.moe'), nodeHost);
      expect(result.diagnostics.map((d) => d.code), source).toEqual(['MOE2006']);
    }
  });

  it('refuses a glob inside the folder that matches a symlink out of it, at check time and when read', () => {
    const { spec, secret } = layout();
    mkdirSync(join(spec, 'data'));
    writeFileSync(join(spec, 'data', 'a.txt'), 'a fine record\n');
    symlinkSync(secret, join(spec, 'data', 'b.txt'));
    writeFileSync(join(spec, 'main.moe'), 'data d { source = "data/*.txt" }\n');
    const result = checkFile(join(spec, 'main.moe'), nodeHost);
    expect(result.diagnostics.map((d) => d.code)).toEqual(['MOE2006']);
    expect(result.diagnostics[0]!.label).toContain('it matches data/b.txt');

    let error: unknown;
    try {
      readSource('data/*.txt', spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/data\/b\.txt, which resolves to .*outside\/secret, outside the spec folder/);
    expect((error as Error).message).not.toContain('SECRET');
  });
});

describe('a checkpoint names only files inside its spec folder', () => {
  const documentNaming = (source: string, file: string): GraphDocument =>
    ({ source, plan: { tokenizers: { t: { kind: 'hf', file } }, data: {}, stages: [] } }) as unknown as GraphDocument;

  const refusal = (run: () => unknown): Error => {
    try {
      run();
    } catch (error) {
      return error as Error;
    }
    throw new Error('not refused');
  };

  it('refuses a tokenizer file outside the spec folder (absolute, through .., or a symlink) without echoing it', () => {
    const { top, spec, secret } = layout();
    symlinkSync(secret, join(spec, 'tokenizer.json'));
    for (const file of [secret, '../outside/secret', 'tokenizer.json']) {
      const error = refusal(() => checkpointTokenizer(join(top, 'ckpt'), documentNaming('spec/main.moe', file), top));
      expect(error, file).toBeInstanceOf(RuntimeError);
      expect(error.message, file).toContain(`names the tokenizer file ${file}, outside its spec folder`);
      expect(error.message).not.toContain('SECRET');
    }
  });

  it('refuses a spec folder outside the working folder', () => {
    const { top, spec } = layout();
    const error = refusal(() => checkpointTokenizer(join(top, 'ckpt'), documentNaming('../outside/x.moe', 'secret'), spec));
    expect(error.message).toContain('names its spec ../outside/x.moe, outside the working folder');
  });

  it('reads a tokenizer inside the folder, and reports one that is not JSON without quoting it', () => {
    const { top, spec } = layout();
    writeFileSync(join(spec, 'tokenizer.json'), `${SECRET}\n`);
    const error = refusal(() => checkpointTokenizer(join(top, 'ckpt'), documentNaming('spec/main.moe', 'tokenizer.json'), top));
    expect(error.message).toMatch(/tokenizer .*tokenizer\.json is not valid JSON/);
    expect(error.message).not.toContain('SECRET');
  });
});
