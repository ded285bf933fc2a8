/** Version 1 documents (checkpoints written before nodes carried `layer`) load as version 2. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GraphDocument } from '../../ir/types.js';
import { parseGraph } from '../../runtime/load.js';

const golden = (name: string): GraphDocument =>
  JSON.parse(readFileSync(join(import.meta.dirname, '..', 'golden-ir', `${name}.graph.json`), 'utf8')) as GraphDocument;

/** The same document as version 1 wrote it: no layer on any node. */
function asVersion1(doc: GraphDocument): unknown {
  return { ...doc, ir_version: 1, models: doc.models.map((m) => ({ ...m, nodes: m.nodes.map(({ layer: _layer, ...n }) => n) })) };
}

describe('loading a version 1 graph', () => {
  for (const name of ['r1-tiny', 'deepseek-v3', 'mixtral']) {
    it(`${name}: every node gets the layer the current lowering gives it`, () => {
      const current = golden(name);
      const loaded = parseGraph(JSON.stringify(asVersion1(current)), 'old graph.json');
      expect(loaded.ir_version).toBe(2);
      expect(loaded.models.map((m) => m.nodes.map((n) => n.layer ?? null))).toEqual(current.models.map((m) => m.nodes.map((n) => n.layer ?? null)));
    });
  }

  it('the current lowering puts MTP modules after the main layers and model-level nodes in none', () => {
    const model = golden('r1-tiny').models[0]!;
    const layers = model.config.layers as number;
    const byOp = (op: string) => model.nodes.filter((n) => n.op === op).map((n) => n.layer ?? null);
    expect(byOp('loss.sum')).toEqual([null]);
    expect(byOp('embedding')).toEqual([null, ...Array.from({ length: byOp('embedding').length - 1 }, (_, k) => layers + k)]);
    expect(byOp('attention.mla')).toEqual(Array.from({ length: byOp('attention.mla').length }, (_, i) => i));
  });

  it('refuses a version it does not know', () => {
    expect(() => parseGraph(JSON.stringify({ ...golden('r1-tiny'), ir_version: 3 }), 'g.json')).toThrow(/ir_version/);
  });
});
