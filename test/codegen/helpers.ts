/** Lowered examples and in-test specs for the emitter tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { lowerSpec } from '../../compiler/lower/index.js';

export const root = join(import.meta.dirname, '..', '..');

const cache = new Map<string, GraphDocument>();

/** The graph document of `examples/NAME.moe`, lowered once per test file. */
export function example(name: string): GraphDocument {
  let doc = cache.get(name);
  if (!doc) {
    doc = lowerSpec(checkFile(join(root, 'examples', `${name}.moe`), nodeHost), root);
    cache.set(name, doc);
  }
  return doc;
}

export function onlyModel(doc: GraphDocument): ModelGraph {
  const [model] = doc.models;
  if (!model || doc.models.length !== 1) throw new Error(`expected one model in ${doc.source}`);
  return model;
}

/** A fresh temporary folder. */
export function tempDir(prefix = 'moe-codegen-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `text` as a spec in a temporary folder, checks it (it must be clean) and lowers it. */
export function lowerText(text: string, file = 'spec.moe'): GraphDocument {
  const dir = tempDir();
  const path = join(dir, file);
  writeFileSync(path, text);
  const checked = checkFile(path, nodeHost);
  const errors = checked.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`the test spec has errors:\n${errors.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  return lowerSpec(checked, dir);
}

/** A small MLA model whose layer ranges are given in `ranges` (the `layers a..b { ... }` blocks). */
export function tinyModel(ranges: string, extra = ''): string {
  return `model Tiny {
  vocab   = 320
  dim     = 16
  layers  = 4
  context = 32
  attention mla { heads = 2, q_rank = 0, kv_rank = 8, nope_dim = 4, rope_dim = 4, v_dim = 4 }
${ranges}
${extra}
}
`;
}

export const MOE = 'moe { experts = 4, hidden = 8, top_k = 2, router { score = sigmoid } }';
export const DENSE = 'ffn swiglu { hidden = 32 }';
