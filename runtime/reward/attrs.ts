/**
 * Reading a rule's attributes from the IR plan (`plan.rewards[name].rules[i]`). The compiler has
 * filled defaults and checked types, so a missing or mistyped field means a hand-written or stale
 * graph: it fails at construction with the rule's name, never half-way through a batch.
 */
import type { AttrValue } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';

export type RuleAttrs = { readonly [k: string]: AttrValue };

function missing(attrs: RuleAttrs, key: string, expected: string): RuntimeError {
  return new RuntimeError(
    `reward rule \`${String(attrs['name'] ?? '?')}\`: \`${key}\` should be ${expected}, found ${JSON.stringify(attrs[key] ?? null)}`,
    'recompile the spec with `moe compile` so the graph carries every field',
  );
}

export function readString(attrs: RuleAttrs, key: string): string {
  const v = attrs[key];
  if (typeof v !== 'string') throw missing(attrs, key, 'a string');
  return v;
}

export function readNumber(attrs: RuleAttrs, key: string): number {
  const v = attrs[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw missing(attrs, key, 'a number');
  return v;
}

/** A field the rule reads from the sample; a sample without it is that item's problem. */
export function sampleField(sample: Readonly<Record<string, unknown>>, field: string): unknown {
  if (!Object.hasOwn(sample, field)) throw new Error(`the sample has no field \`${field}\``);
  return sample[field];
}
