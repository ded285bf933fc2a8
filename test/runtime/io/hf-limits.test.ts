/**
 * Issue 17, item 10: `moe import hf` checks the sizes in config.json against the bounds a spec has
 * before building anything. On 557c2c5 `num_hidden_layers: 1e9` ran the importer out of memory
 * after 2.5 GB (a native crash, no message).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importHf } from '../../../interop/hf/import.js';
import { refusal, tempDir, tinyDeepseekFolder } from './helpers.js';

function withConfig(change: Record<string, unknown>): string {
  const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...change }));
  return dir;
}

describe('HF config bounds', () => {
  it('refuses num_hidden_layers: 1e9 with one line naming the file and the field', () => {
    const dir = withConfig({ num_hidden_layers: 1e9 });
    const error = refusal(() => importHf(dir, join(tempDir(), 'ckpt')));
    expect(error.message).toBe(`${join(dir, 'config.json')}: num_hidden_layers must be at most 10000, found 1000000000`);
    expect(error.message).not.toContain('\n');
  });

  it('refuses the other sizes too (experts, vocab, widths, the shared expert\'s width)', () => {
    for (const [key, value] of [['n_routed_experts', 1e7], ['vocab_size', 1e10], ['hidden_size', 1e8], ['shared_expert_intermediate_size', 1e8]] as const) {
      const error = refusal(() => importHf(withConfig({ [key]: value }), join(tempDir(), 'ckpt')));
      expect(error.message).toContain(`config.json: ${key} must be at most`);
    }
  });

  it('reports a config.json that is not JSON without quoting it', () => {
    const { dir } = tinyDeepseekFolder({ qLoraRank: 12, mtp: false });
    writeFileSync(join(dir, 'config.json'), 'root:SECRET:0:0\n');
    const error = refusal(() => importHf(dir, join(tempDir(), 'ckpt')));
    expect(error.message).toMatch(/config\.json is not valid JSON/);
    expect(error.message).not.toContain('SECRET');
  });
});
