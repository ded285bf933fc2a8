/**
 * The schema (and, when the spec checked, the resolved config) of the block a cursor is in, found by
 * following its frames from the top-level block down: fields, variant cases, layer ranges and
 * reward rules.
 */
import { BLOCK_KINDS, type BlockKindName } from '../../grammar/tokens.js';
import type { CheckContext } from '../check/context.js';
import { Config } from '../check/values.js';
import { blockSpecs } from '../schema/index.js';
import type { BlockSpec, FieldSpec } from '../schema/dsl.js';
import type { Frame } from './cursor.js';

export interface Place {
  /** the top-level block's kind, when the cursor is inside a block of a known kind */
  readonly blockKind?: BlockKindName;
  /** the top-level block's name */
  readonly blockName?: string;
  /** the schema of the innermost block, undefined when unknown (a misspelt field, a list, …) */
  readonly spec?: BlockSpec;
  /** the checked config of the innermost block, when there is one */
  readonly config?: Config;
}

export function isBlockKindName(name: string): name is BlockKindName {
  return (BLOCK_KINDS as readonly string[]).includes(name);
}

/** Follows `frames` from the top level; `ctx` supplies resolved values when given. */
export function placeOf(frames: readonly Frame[], ctx?: CheckContext): Place {
  const [top, ...inner] = frames;
  if (top?.kind !== 'block' || !isBlockKindName(top.blockKind)) return {};
  let spec: BlockSpec | undefined = blockSpecs[top.blockKind];
  const checked = ctx?.blocks.get(top.name);
  let config: Config | undefined = checked?.kind === top.blockKind ? checked.config : undefined;
  for (const frame of inner) {
    if (!spec) break;
    switch (frame.kind) {
      case 'field': {
        spec = blockOf(spec.fields[frame.field], frame.variant);
        const sub = config?.get(frame.field);
        config = sub instanceof Config && (frame.variant === undefined || sub.tag === frame.variant) ? sub : undefined;
        break;
      }
      case 'layers':
        spec = spec.ranges;
        config = config?.ranges.find((r) => r.span.start <= frame.open && frame.open < r.span.end)?.config;
        break;
      case 'rule':
        spec = spec.rules?.[frame.rule];
        config = config?.rules.find((r) => r.name === frame.name && r.ruleKind === frame.rule)?.config;
        break;
      default:
        spec = undefined;
        config = undefined;
    }
  }
  return { blockKind: top.blockKind, blockName: top.name, ...(spec ? { spec } : {}), ...(spec && config ? { config } : {}) };
}

/** The block a field opens: the field itself, or the named case of a variant. */
export function blockOf(field: FieldSpec | undefined, variant: string | undefined): BlockSpec | undefined {
  if (field?.type === 'block') return variant === undefined ? field : undefined;
  if (field?.type === 'variant') return variant === undefined ? undefined : field.cases[variant];
  return undefined;
}
