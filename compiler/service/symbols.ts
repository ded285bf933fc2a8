/** The outline: top-level declarations with their members (fields, nested blocks, layer ranges, rules). */
import { STAGE_KINDS } from '../../grammar/tokens.js';
import type * as A from '../syntax/ast.js';
import type { Analysis } from './analysis.js';
import type { DocumentSymbol, SymbolKind } from './types.js';

const DETAIL_WIDTH = 60;

export function documentSymbols(analysis: Analysis): DocumentSymbol[] {
  const text = analysis.text;
  const snippet = (span: A.Ident['span']): string => {
    const s = text.slice(span.start, span.end).replace(/\s+/g, ' ');
    return s.length > DETAIL_WIDTH ? `${s.slice(0, DETAIL_WIDTH - 1)}…` : s;
  };
  const member = (m: A.Member): DocumentSymbol => {
    switch (m.kind) {
      case 'Field': {
        const children = m.value.kind === 'Variant' || m.value.kind === 'Map' ? m.value.body.members.map(member) : [];
        return symbol(m.name.name, snippet(m.value.span), 'field', m.span, m.name.span, children);
      }
      case 'Nested':
        return symbol(m.name.name, m.variant?.name ?? '', 'block', m.span, m.name.span, m.body.members.map(member));
      case 'LayerRange':
        return symbol(`layers ${snippet(m.from.span)}..${snippet(m.to.span)}`, '', 'layers', m.span, m.keyword, m.body.members.map(member));
      case 'Weighted':
        return symbol(m.name.name, `${snippet(m.weight.span)} = ${snippet(m.value.span)}`, 'rule', m.span, m.name.span, []);
    }
  };
  const out: DocumentSymbol[] = [];
  for (const item of analysis.parse.ast.items) {
    switch (item.kind) {
      case 'Import':
        out.push(symbol(item.path.value, 'import', 'import', item.span, item.path.span, []));
        break;
      case 'Const':
        out.push(symbol(item.name.name, snippet(item.value.span), 'const', item.span, item.name.span, []));
        break;
      case 'Pipeline':
        out.push(symbol(item.name.name, item.chains.map((c) => c.map((i) => i.name).join(' → ')).join(', '), 'pipeline', item.span, item.name.span, []));
        break;
      case 'Block': {
        const kind = item.blockKind.name;
        const detail = item.base ? `${kind} extends ${item.base.name}` : kind;
        out.push(symbol(item.name.name, detail, kindOf(kind), item.span, item.name.span, item.body.members.map(member)));
        break;
      }
    }
  }
  return out;
}

function kindOf(blockKind: string): SymbolKind {
  if (blockKind === 'model') return 'model';
  if (blockKind === 'reward') return 'reward';
  if ((STAGE_KINDS as readonly string[]).includes(blockKind)) return 'stage';
  return 'resource';
}

function symbol(name: string, detail: string, kind: SymbolKind, range: A.Ident['span'], selection: A.Ident['span'], children: DocumentSymbol[]): DocumentSymbol {
  // an editor requires the name's range inside the whole range; recovered nodes may break that
  const start = Math.min(range.start, selection.start);
  const end = Math.max(range.end, selection.end);
  return {
    name: name || '?',
    detail,
    kind,
    range: { start, end },
    selection: { start: selection.start, end: selection.end },
    children,
  };
}
