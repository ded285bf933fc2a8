/**
 * A stage's fingerprint for "has it already run as it is now written?": a hash of its plan entry,
 * the model graph and the data/tokenizer/reward blocks it names, and the `--steps` cap. Source
 * locations are left out, so editing another part of the spec (or a comment) reruns nothing.
 */
import { createHash } from 'node:crypto';
import type { AttrValue, GraphDocument, StagePlan } from '../../ir/types.js';

export function stageKey(document: GraphDocument, stage: StagePlan, maxSteps: number | undefined): string {
  const { plan } = document;
  const named = (table: { readonly [name: string]: unknown }): { [name: string]: unknown } =>
    Object.fromEntries(Object.values(stage.hyper).filter((v): v is string => typeof v === 'string' && v in table).map((n) => [n, table[n]]));
  const fingerprint = {
    stage,
    model: document.models.find((m) => m.name === stage.model) ?? null,
    data: named(plan.data),
    tokenizers: named(plan.tokenizers),
    rewards: named(plan.rewards),
    max_steps: maxSteps ?? null,
  };
  return createHash('sha256').update(canonicalJson(fingerprint)).digest('hex');
}

/** JSON with sorted keys and without `loc` fields: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(strip(value));
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (value === null || typeof value !== 'object') return value as AttrValue;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([k]) => k !== 'loc')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, strip(v)]));
}
