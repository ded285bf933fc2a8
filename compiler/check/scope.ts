/**
 * Name lookup for expressions. A scope is a chain of frames: the fields of the block being read,
 * then the enclosing blocks' fields (so `hidden = 4 * dim` inside a layer range reads the model's
 * `dim`), then the program's consts. Fields are evaluated lazily, once, with cycle detection.
 */
import type * as A from '../syntax/ast.js';

export interface Frame {
  /** the expression a name is bound to in this frame, if any */
  binding(name: string): { readonly expr: A.Expr; readonly key: object; readonly label: string } | undefined;
  names(): Iterable<string>;
}

export class Scope {
  constructor(
    readonly frame: Frame,
    readonly parent?: Scope,
  ) {}

  lookup(name: string): { readonly expr: A.Expr; readonly key: object; readonly label: string; readonly scope: Scope } | undefined {
    const found = this.frame.binding(name);
    if (found) return { ...found, scope: this };
    return this.parent?.lookup(name);
  }

  *allNames(): Iterable<string> {
    yield* this.frame.names();
    if (this.parent) yield* this.parent.allNames();
  }

  child(frame: Frame): Scope {
    return new Scope(frame, this);
  }
}

/** The plain fields (`name = expr`) of a body. */
export function bodyFrame(body: A.Body): Frame {
  const fields = new Map<string, A.Field>();
  for (const m of body.members) if (m.kind === 'Field' && !fields.has(m.name.name)) fields.set(m.name.name, m);
  return {
    binding(name) {
      const field = fields.get(name);
      return field ? { expr: field.value, key: field, label: name } : undefined;
    },
    names: () => fields.keys(),
  };
}

export const emptyFrame: Frame = { binding: () => undefined, names: () => [] };
