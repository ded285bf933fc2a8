/** Structural validation of an IR document against graph.schema.json with ajv (compiled once). */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import type { GraphDocument } from './types.js';

export const GRAPH_SCHEMA_URL = new URL('../../ir/graph.schema.json', import.meta.url);

let compiled: ValidateFunction | undefined;

function schemaText(): string {
  // from dist/ir/ the schema sits in the source tree (package.json ships it); from the sources it is beside this file
  for (const url of [new URL('./graph.schema.json', import.meta.url), GRAPH_SCHEMA_URL]) {
    try {
      return readFileSync(url, 'utf8');
    } catch {
      // try the next place
    }
  }
  throw new Error('graph.schema.json not found beside the IR package');
}

function validator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(schemaText()) as object);
  return compiled;
}

/** Schema errors as `path: message` lines; empty when the document is valid. */
export function validateGraph(document: unknown): string[] {
  const validate = validator();
  if (validate(document)) return [];
  return (validate.errors ?? []).slice(0, 20).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}

export function isGraphDocument(document: unknown): document is GraphDocument {
  return validateGraph(document).length === 0;
}
