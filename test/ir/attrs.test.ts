/** The attribute table: one declaration checks nodes (verifier, kernels) and writes specs/ir.md §4. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OP_ATTRS, readAttrs, type AttrsOf } from '../../ir/attrs.js';
import type { GraphDocument } from '../../ir/types.js';
import { verifyDocument } from '../../ir/verify.js';
import { irSpecMarkdown } from '../../scripts/ir-attrs.js';

const repo = join(import.meta.dirname, '..', '..');
const golden = (): GraphDocument => JSON.parse(readFileSync(join(repo, 'test', 'golden-ir', 'r1-tiny.graph.json'), 'utf8')) as GraphDocument;

describe('readAttrs', () => {
  const router = { experts: 8, top_k: 2, score: 'sigmoid', groups: 1, top_groups: 1, normalize: true, scale: 1, bias_rate: null, group_score: 'max' };

  it('returns the typed view', () => {
    const view: AttrsOf<'moe.router'> = readAttrs('moe.router', router);
    expect(view.bias_rate).toBeNull();
    expect(view.score).toBe('sigmoid');
  });

  it('names the attribute and its domain when one is missing, outside its domain or undeclared', () => {
    const { group_score: _, ...missing } = router;
    expect(() => readAttrs('moe.router', missing)).toThrow('moe.router: attribute group_score is missing (one of top2_sum, max)');
    expect(() => readAttrs('moe.router', { ...router, top_k: 1.5 })).toThrow('attribute top_k must be an integer >= 1, found 1.5');
    expect(() => readAttrs('moe.router', { ...router, scale: 0 })).toThrow('attribute scale must be a number > 0, found 0');
    expect(() => readAttrs('moe.router', { ...router, topk: 2 })).toThrow('moe.router: unknown attribute topk');
    expect(() => readAttrs('moe.experts', { experts: 8, top_k: 2, capacity: 'none' })).toThrow('capacity must be a number > 0 or null');
  });
});

describe('the verifier checks attributes against the table', () => {
  it('refuses a node whose attribute is outside its domain', () => {
    const doc = golden() as unknown as { models: { nodes: { op: string; attrs: Record<string, unknown> }[] }[] };
    doc.models[0]!.nodes.find((n) => n.op === 'rms_norm')!.attrs.eps = -1;
    expect(verifyDocument(doc as unknown as GraphDocument).join('\n')).toMatch(/rms_norm: attribute eps must be a number > 0, found -1/);
  });
});

describe('specs/ir.md §4 attribute tables', () => {
  const spec = readFileSync(join(repo, 'specs', 'ir.md'), 'utf8');

  it('every op of the table has a region, listing exactly its attributes', () => {
    for (const [op, attrs] of Object.entries(OP_ATTRS)) {
      const region = new RegExp(`<!-- attrs: ${op.replace('.', '\\.')} -->\\n([\\s\\S]*?)<!-- /attrs -->`).exec(spec)?.[1];
      expect(region, op).toBeDefined();
      expect([...region!.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]), op).toEqual(Object.keys(attrs));
    }
  });

  it('generation refuses a spec that lacks an op region', () => {
    expect(() => irSpecMarkdown(spec.replace(/<!-- attrs: loss\.z -->[\s\S]*?<!-- \/attrs -->/, ''))).toThrow('no attribute region for loss.z');
  });
});
