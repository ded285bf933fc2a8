/**
 * Loading an IR document: schema validation (ajv), an older version upgraded (checkpoints written
 * before a format change), then the verifier, before anything is built.
 */
import { readFileSync } from 'node:fs';
import type { GraphDocument, ModelGraph } from '../ir/types.js';
import { upgradeGraph } from '../ir/upgrade.js';
import { validateGraph } from '../ir/validate.js';
import { verifyDocument } from '../ir/verify.js';
import { RuntimeError } from './errors.js';

export function parseGraph(text: string, origin: string): GraphDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RuntimeError(`${origin} is not JSON: ${(error as Error).message}`);
  }
  const schemaErrors = validateGraph(json);
  if (schemaErrors.length > 0) throw new RuntimeError(`${origin} is not a valid graph:\n  ${schemaErrors.join('\n  ')}`);
  const doc = upgradeGraph(json as Parameters<typeof upgradeGraph>[0]);
  const problems = verifyDocument(doc);
  if (problems.length > 0) throw new RuntimeError(`${origin} does not verify:\n  ${problems.slice(0, 20).join('\n  ')}`);
  return doc;
}

export function loadGraph(path: string): GraphDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RuntimeError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseGraph(text, path);
}

export function modelOf(doc: GraphDocument, name?: string): ModelGraph {
  if (name === undefined) {
    if (doc.models.length === 1) return doc.models[0]!;
    throw new RuntimeError(`the graph has ${doc.models.length} models; name one (${doc.models.map((m) => m.name).join(', ')})`);
  }
  const model = doc.models.find((m) => m.name === name);
  if (!model) throw new RuntimeError(`the graph has no model ${name}; it has ${doc.models.map((m) => m.name).join(', ')}`);
  return model;
}
