/**
 * Which declaration each name in a file refers to, read from the tree: block and const names where
 * they are declared, `extends` bases, stages in pipelines, and references in expressions. A bare
 * name resolves like the checker's scopes do: a block name is always the block (reference fields
 * read their value as a symbol first); otherwise a field of an enclosing block shadows a const.
 */
import type { Decl } from '../bind/program.js';
import type * as A from '../syntax/ast.js';

export type Target =
  | { readonly kind: 'decl'; readonly name: string }
  /** a field of an enclosing block (`4 * dim`) or of a named one (`Tiny.dim`) */
  | { readonly kind: 'field'; readonly field: A.Ident };

export interface Occurrence {
  readonly ident: A.Ident;
  readonly target: Target;
  /** the declaration itself rather than a use of it */
  readonly declaration: boolean;
}

export function occurrences(file: A.SpecFile, decls: ReadonlyMap<string, Decl>): Occurrence[] {
  const out: Occurrence[] = [];
  const declRef = (ident: A.Ident, declaration = false): void => {
    if (decls.has(ident.name)) out.push({ ident, target: { kind: 'decl', name: ident.name }, declaration });
  };
  const expr = (e: A.Expr, bodies: readonly A.Body[]): void => {
    switch (e.kind) {
      case 'Ref':
        return ref(e, bodies);
      case 'List':
        return e.items.forEach((i) => expr(i, bodies));
      case 'Pair':
        expr(e.key, bodies);
        return expr(e.value, bodies);
      case 'Map':
      case 'Variant':
        return body(e.body, bodies);
      case 'Call':
        return e.args.forEach((a) => expr(a, bodies));
      case 'Binary':
        expr(e.left, bodies);
        return expr(e.right, bodies);
      case 'Neg':
        return expr(e.operand, bodies);
      case 'Paren':
        return expr(e.inner, bodies);
      default:
        return;
    }
  };
  const ref = (e: A.RefExpr, bodies: readonly A.Body[]): void => {
    const [head, ...rest] = e.path;
    if (!head) return;
    const decl = decls.get(head.name);
    if (decl?.kind === 'block') {
      declRef(head);
      let members = decl.node.body.members;
      for (const part of rest) {
        const member = findMember(members, part.name);
        if (!member) break;
        out.push({ ident: part, target: { kind: 'field', field: member.name }, declaration: false });
        if (member.kind !== 'Nested') break;
        members = member.body.members;
      }
      return;
    }
    const field = rest.length === 0 ? enclosingField(bodies, head.name) : undefined;
    if (field) out.push({ ident: head, target: { kind: 'field', field: field.name }, declaration: false });
    else declRef(head);
  };
  const body = (b: A.Body, outer: readonly A.Body[]): void => {
    const bodies = [...outer, b];
    for (const m of b.members) {
      switch (m.kind) {
        case 'Field':
          out.push({ ident: m.name, target: { kind: 'field', field: m.name }, declaration: true });
          expr(m.value, bodies);
          break;
        case 'Nested':
          out.push({ ident: m.name, target: { kind: 'field', field: m.name }, declaration: true });
          body(m.body, bodies);
          break;
        case 'LayerRange':
          expr(m.from, bodies);
          expr(m.to, bodies);
          body(m.body, bodies);
          break;
        case 'Weighted':
          expr(m.weight, bodies);
          expr(m.value, bodies);
          break;
      }
    }
  };
  for (const item of file.items) {
    switch (item.kind) {
      case 'Const':
        declRef(item.name, true);
        expr(item.value, []);
        break;
      case 'Block':
        declRef(item.name, true);
        if (item.base) declRef(item.base);
        body(item.body, []);
        break;
      case 'Pipeline':
        declRef(item.name, true);
        for (const chain of item.chains) for (const ident of chain) declRef(ident);
        break;
      case 'Import':
        break;
    }
  }
  return out;
}

/** The nearest enclosing plain field of that name (the checker's scope chain). */
function enclosingField(bodies: readonly A.Body[], name: string): A.Field | undefined {
  for (let i = bodies.length - 1; i >= 0; i--) {
    const field = bodies[i]!.members.find((m): m is A.Field => m.kind === 'Field' && m.name.name === name);
    if (field) return field;
  }
  return undefined;
}

function findMember(members: readonly A.Member[], name: string): A.Field | A.Nested | undefined {
  return members.find((m): m is A.Field | A.Nested => (m.kind === 'Field' || m.kind === 'Nested') && m.name.name === name);
}

/** The name under the cursor, if it refers to something. */
export function occurrenceAt(list: readonly Occurrence[], offset: number): Occurrence | undefined {
  return list.find((o) => o.ident.span.start <= offset && offset <= o.ident.span.end);
}

export function sameTarget(a: Target, b: Target): boolean {
  if (a.kind === 'decl' && b.kind === 'decl') return a.name === b.name;
  if (a.kind === 'field' && b.kind === 'field') return a.field === b.field;
  return false;
}
