/** The verifier catches what a hand-edited or foreign graph can get wrong. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { validateGraph } from '../../ir/validate.js';
import { verifyDocument, verifyModel } from '../../ir/verify.js';

const repo = join(import.meta.dirname, '..', '..');
const original = lowerSpec(checkFile(join(repo, 'examples', 'r1-tiny.moe'), nodeHost), repo);

function mutate(change: (m: { -readonly [K in keyof ModelGraph]: ModelGraph[K] } & Record<string, unknown>) => void): string[] {
  const model = structuredClone(original.models[0]!) as unknown as { -readonly [K in keyof ModelGraph]: ModelGraph[K] } & Record<string, unknown>;
  change(model);
  return verifyModel(model as unknown as ModelGraph);
}

describe('verifyModel', () => {
  it('accepts the lowered graph', () => {
    expect(verifyModel(original.models[0]!)).toEqual([]);
  });

  it('rejects nodes out of topological order', () => {
    const problems = mutate((m) => {
      const nodes = [...m.nodes];
      [nodes[1], nodes[2]] = [nodes[2]!, nodes[1]!];
      m.nodes = nodes;
    });
    expect(problems.some((p) => p.includes('before it is produced'))).toBe(true);
  });

  it('rejects a second producer of a value', () => {
    const problems = mutate((m) => {
      m.nodes = [...m.nodes, m.nodes[1]!];
    });
    expect(problems.some((p) => p.includes('already has a producer'))).toBe(true);
  });

  it('rejects a parameter of the wrong shape, naming the node and its source line', () => {
    const problems = mutate((m) => {
      m.params = m.params.map((p) => (p.name === 'model.layers.0.mlp.up_proj.weight' ? { ...p, shape: [255, 64] } : p));
    });
    expect(problems.some((p) => /ffn\.swiglu at examples\/r1-tiny\.moe:\d+:\d+\): up_proj has shape \[255, 64\]/.test(p))).toBe(true);
  });

  it('rejects a recorded type that disagrees with the op', () => {
    const problems = mutate((m) => {
      m.values = { ...m.values, 'h.1': { dtype: 'f32', shape: ['B', 'T', 63] } };
    });
    expect(problems.some((p) => p.includes('h.1 is recorded as f32[B, T, 63]'))).toBe(true);
  });

  it('rejects unused parameters and unknown ops', () => {
    const unused = mutate((m) => {
      m.params = [...m.params, { name: 'stray.weight', shape: [2, 2], dtype: 'f32', init: { kind: 'zeros' }, decay: true }];
    });
    expect(unused).toContain('R1Tiny: parameter stray.weight is never used');
    const unknown = mutate((m) => {
      m.nodes = m.nodes.map((n, i) => (i === 0 ? { ...n, op: 'frobnicate' } : n));
    });
    expect(unknown.some((p) => p.includes('unknown op'))).toBe(true);
  });
});

describe('validateGraph and verifyDocument', () => {
  it('reject structural errors with a path', () => {
    const broken = { ...original, ir_version: 99 } as unknown as GraphDocument;
    expect(validateGraph(broken)[0]).toMatch(/^\/ir_version: /);
    const noNodes = structuredClone(original) as unknown as { models: { nodes: unknown }[] };
    noNodes.models[0]!.nodes = 'none';
    expect(validateGraph(noNodes).some((e) => e.startsWith('/models/0/nodes'))).toBe(true);
  });

  it('rejects a pipeline whose order breaks an edge', () => {
    const doc = structuredClone(original) as unknown as { plan: { pipelines: { order: string[] }[] } };
    doc.plan.pipelines[0]!.order = [...doc.plan.pipelines[0]!.order].reverse();
    expect(verifyDocument(doc as unknown as GraphDocument).some((p) => p.includes('must run before'))).toBe(true);
  });
});
