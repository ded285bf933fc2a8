/**
 * `extends`: a derived block's body merged over its base's. Fields override by name; nested blocks
 * merge recursively when their variant agrees and replace otherwise; layer ranges of the derived
 * block replace all of the base's; weighted reward rules override by name. A member the base lacks
 * is added; at the top level with a warning, so the addition is stated.
 */
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type * as A from '../syntax/ast.js';

function memberKey(m: A.Member): string | undefined {
  switch (m.kind) {
    case 'Field':
    case 'Nested':
      return `field:${m.name.name}`;
    case 'Weighted':
      return `rule:${m.name.name}`;
    case 'LayerRange':
      return undefined;
  }
}

export function mergeBodies(base: A.Body, derived: A.Body, baseName: string, diagnostics?: DiagnosticBag): A.Body {
  const derivedHasRanges = derived.members.some((m) => m.kind === 'LayerRange');
  const merged: A.Member[] = base.members.filter((m) => !(derivedHasRanges && m.kind === 'LayerRange'));
  const indexByKey = new Map<string, number>();
  merged.forEach((m, i) => {
    const key = memberKey(m);
    if (key !== undefined) indexByKey.set(key, i);
  });
  for (const member of derived.members) {
    const key = memberKey(member);
    if (key === undefined) {
      merged.push(member);
      continue;
    }
    const at = indexByKey.get(key);
    if (at === undefined) {
      if (diagnostics && (member.kind === 'Field' || member.kind === 'Nested')) {
        diagnostics.report('MOE2015', member.name.span, { name: member.name.name, base: baseName });
      }
      indexByKey.set(key, merged.length);
      merged.push(member);
      continue;
    }
    merged[at] = mergeMember(merged[at]!, member, baseName);
  }
  return { kind: 'Body', span: derived.span, members: merged };
}

/** Nested merges add fields silently: inside a block, setting a defaulted field is ordinary. */
function mergeMember(base: A.Member, derived: A.Member, baseName: string): A.Member {
  if (base.kind !== 'Nested' || derived.kind !== 'Nested') return derived;
  const sameVariant = derived.variant === undefined || derived.variant.name === base.variant?.name;
  // (both are Nested here)
  if (!sameVariant) return derived;
  const variant = derived.variant ?? base.variant;
  return {
    ...derived,
    ...(variant ? { variant } : {}),
    body: mergeBodies(base.body, derived.body, baseName),
  };
}
