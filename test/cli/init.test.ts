/**
 * `moe init`: a fresh checkpoint carries its tokenizer (HF files) like a trained one, so a copy of
 * the folder generates text from anywhere; a tokenizer the spec does not have is refused (exit 2).
 */
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');

describe('moe init', () => {
  it('writes the tokenizer of the model\'s training stage into the checkpoint; a copy elsewhere generates text', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-init-'));
    const checkpoint = join(dir, 'ck');
    const init = await runCli(['init', 'examples/r1-tiny.moe', '-o', checkpoint, '--seed', '3'], repo);
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/seed 3, tokenizer \w+\)/);
    expect(existsSync(join(checkpoint, 'tokenizer.json'))).toBe(true);
    expect(existsSync(join(checkpoint, 'tokenizer_config.json'))).toBe(true);
    // far from the spec and its data: only the checkpoint's own files can give the tokenizer
    const elsewhere = mkdtempSync(join(tmpdir(), 'moe-init-copy-'));
    cpSync(checkpoint, join(elsewhere, 'moved'), { recursive: true });
    const generated = await runCli(['generate', 'moved', '--prompt', 'Most common of a b a?', '--max-new-tokens', '4', '--json', '--backend', 'cpu'], elsewhere);
    expect(generated.code, generated.stderr).toBe(0);
    const result = JSON.parse(generated.stdout) as { ids: number[]; text: string };
    expect(result.ids.length).toBeGreaterThan(0);
    expect(typeof result.text).toBe('string');
  });

  it('refuses a tokenizer the spec does not have, naming the ones it has', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moe-init-'));
    const r = await runCli(['init', 'examples/r1-tiny.moe', '-o', join(dir, 'ck'), '--tokenizer', 'nope'], repo);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the spec has no tokenizer nope; its tokenizers: \w+/);
    expect(existsSync(join(dir, 'ck'))).toBe(false);
  });
});
