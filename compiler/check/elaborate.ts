/**
 * Elaboration: every top-level block is read against its schema into a `Config` — names resolved,
 * expressions folded with units, values converted to the field's type, defaults applied — with all
 * errors collected. Semantic rules then run on the configs (compiler/check/rules).
 */
import type { BlockKindName } from '../../grammar/tokens.js';
import type { Decl, Program } from '../bind/program.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import { closestNames, didYouMean } from '../../util/did-you-mean.js';
import { blockSpecs } from '../schema/index.js';
import { describeSpec, type BlockSpec, type FieldSpec, type ValueSpec, type VariantSpec } from '../schema/dsl.js';
import type * as A from '../syntax/ast.js';
import type { Span } from '../syntax/source.js';
import { mergeBodies } from './extends.js';
import { FUNCTIONS, describeRaw, unitOf, type Raw } from './raw.js';
import { Scope, bodyFrame, type Frame } from './scope.js';
import { Config, formatNumber, type Value } from './values.js';

const MAX_EVAL_DEPTH = 200;

export class Elaborator {
  private readonly rawCache = new Map<object, Raw>();
  private readonly inProgress: { key: object; label: string; span: Span }[] = [];
  private readonly configs = new Map<string, Config | undefined>();
  private readonly merged = new Map<string, A.Body>();
  private readonly extending = new Set<string>();
  /** blocks whose `extends` base could not be read: the fields it would supply are not missing */
  private readonly baseless = new Set<string>();
  /** true while elaborating a block in `baseless` */
  private quietMissing = false;
  readonly usedConsts = new Set<string>();
  private depth = 0;
  readonly global: Scope;

  constructor(
    readonly program: Program,
    readonly diagnostics: DiagnosticBag,
  ) {
    const frame: Frame = {
      binding: (name) => {
        const decl = program.decls.get(name);
        if (decl?.kind !== 'const') return undefined;
        this.usedConsts.add(name);
        return { expr: decl.node.value, key: decl.node, label: name };
      },
      names: () => [...program.decls].filter(([, d]) => d.kind === 'const').map(([n]) => n),
    };
    this.global = new Scope(frame);
  }

  // ── blocks ──────────────────────────────────────────────────────────────────────────────────
  /** The checked config of a top-level block (memoized; undefined when it is not a block). */
  block(name: string): Config | undefined {
    if (this.configs.has(name)) return this.configs.get(name);
    const decl = this.program.decls.get(name);
    if (decl?.kind !== 'block') return undefined;
    this.configs.set(name, undefined);
    const spec = blockSpecs[decl.blockKind];
    const body = this.mergedBody(decl);
    const where = `${decl.blockKind} \`${name}\``;
    const quiet = this.quietMissing;
    this.quietMissing = this.baseless.has(name);
    const config = this.body(body, spec, this.global.child(bodyFrame(body)), decl.node.name.span, where);
    this.quietMissing = quiet;
    this.configs.set(name, config);
    return config;
  }

  /** A block's body with its `extends` chain merged in. */
  mergedBody(decl: Extract<Decl, { kind: 'block' }>): A.Body {
    const name = decl.node.name.name;
    const cached = this.merged.get(name);
    if (cached) return cached;
    const base = decl.node.base;
    let body = decl.node.body;
    if (base) {
      const baseDecl = this.program.decls.get(base.name);
      if (this.extending.has(name)) {
        this.diagnostics.report('MOE2008', base.span, { cycle: [...this.extending, name].join(' → ') });
      } else if (baseDecl?.kind !== 'block') {
        this.baseless.add(name);
        if (baseDecl) {
          this.diagnostics.report('MOE2013', base.span, { name: base.name, found: withArticle(baseDecl.kind), field: '`extends`', expected: decl.blockKind });
        } else if (!this.unresolvable(base.name)) {
          const known = [...this.program.decls].filter(([, d]) => d.kind === 'block' && d.blockKind === decl.blockKind).map(([n]) => n);
          this.diagnostics.report('MOE2002', base.span, { name: base.name }, { help: didYouMean(base.name, known) });
        }
      } else if (baseDecl.blockKind !== decl.blockKind) {
        this.baseless.add(name);
        this.diagnostics.report('MOE2007', base.span, { name: base.name, kind: decl.blockKind }, {
          label: `\`${base.name}\` is a ${baseDecl.blockKind}`,
        });
      } else {
        this.extending.add(name);
        body = mergeBodies(this.mergedBody(baseDecl), body, base.name, this.diagnostics);
        this.extending.delete(name);
      }
    }
    this.merged.set(name, body);
    return body;
  }

  /** Reads a body against a block schema. `anchor` is where missing-field errors point. */
  body(body: A.Body, spec: BlockSpec, scope: Scope, anchor: Span, where: string, tag?: string): Config {
    const config = new Config(spec, anchor, tag);
    const seen = new Map<string, Span>();
    /** fields an unknown field is probably a misspelling of: their absence is the same mistake */
    const misspelt = new Set<string>();
    for (const member of body.members) {
      switch (member.kind) {
        case 'Field':
        case 'Nested': {
          const name = member.name.name;
          const fieldSpec = spec.fields[name];
          if (!fieldSpec) {
            const meant = this.unknownField(member.name, spec, where);
            if (meant !== undefined) misspelt.add(meant);
            break;
          }
          const previous = seen.get(name);
          if (previous) {
            this.diagnostics.report('MOE2011', member.name.span, { what: `field \`${name}\`` }, {
              related: [{ span: previous, message: 'first set here' }],
            });
            break;
          }
          seen.set(name, member.name.span);
          config.written.add(name);
          const value =
            member.kind === 'Field'
              ? this.field(member.value, fieldSpec, scope, `\`${name}\``, member.name.span)
              : this.nested(member, fieldSpec, scope);
          if (value !== undefined) config.fields.set(name, { value, span: valueSpan(member), explicit: true });
          break;
        }
        case 'LayerRange':
          this.layerRange(member, spec, scope, config, where);
          break;
        case 'Weighted':
          this.weighted(member, spec, scope, config, where);
          break;
      }
    }
    this.applyDefaults(config, spec, scope, anchor, where, seen, misspelt);
    return config;
  }

  private applyDefaults(
    config: Config,
    spec: BlockSpec,
    scope: Scope,
    anchor: Span,
    where: string,
    seen: Map<string, Span>,
    misspelt: ReadonlySet<string>,
  ): void {
    for (const [name, field] of Object.entries(spec.fields)) {
      if (seen.has(name)) continue;
      const value = defaultValue(field, (sub, tag) => this.body({ kind: 'Body', span: anchor, members: [] }, sub, scope, anchor, `\`${name}\``, tag));
      if (value !== undefined) config.fields.set(name, { value, span: anchor, explicit: false });
      else if (this.quietMissing || misspelt.has(name)) continue;
      else if (!field.optional && !(field.type === 'block' || field.type === 'variant') ) {
        this.diagnostics.report('MOE2010', anchor, { name, where }, { help: `add \`${name} = …\`: ${field.doc}` });
      } else if (!field.optional && field.type === 'variant') {
        this.diagnostics.report('MOE2010', anchor, { name, where }, {
          help: `add \`${name} ${Object.keys(field.cases)[0]} { ... }\`: ${field.doc}`,
        });
      }
    }
  }

  /** Reports an unknown field; returns the known field it most likely misspells. */
  private unknownField(name: A.Ident, spec: BlockSpec, where: string): string | undefined {
    const known = Object.keys(spec.fields);
    this.diagnostics.report('MOE2009', name.span, { name: name.name, where }, {
      help: didYouMean(name.name, known) ?? (known.length ? `known fields: ${known.join(', ')}` : 'this block has no fields'),
    });
    return closestNames(name.name, known)[0];
  }

  private nested(member: A.Nested, spec: FieldSpec, scope: Scope): Value | undefined {
    const name = member.name.name;
    const inner = scope.child(bodyFrame(member.body));
    if (spec.type === 'block') {
      if (member.variant) {
        this.diagnostics.report('MOE3001', member.variant.span, { expected: 'a block `{ ... }`', found: `the variant \`${member.variant.name}\`` }, {
          help: `write \`${name} { ... }\``,
        });
      }
      return this.body(member.body, spec, inner, member.name.span, `\`${name}\``);
    }
    if (spec.type === 'variant') {
      if (!member.variant) {
        this.diagnostics.report('MOE3001', member.name.span, { expected: describeSpec(spec), found: 'a block without a kind' }, {
          help: `write \`${name} ${Object.keys(spec.cases)[0]} { ... }\``,
        });
        return undefined;
      }
      return this.variantCase(spec, member.variant, member.body, inner, `\`${name}\``);
    }
    this.diagnostics.report('MOE3001', member.name.span, { expected: describeSpec(spec), found: 'a block' }, {
      help: `write \`${name} = …\``,
    });
    return undefined;
  }

  private variantCase(spec: VariantSpec, tag: A.Ident, body: A.Body, scope: Scope, what: string): Config | undefined {
    const caseSpec = spec.cases[tag.name];
    if (!caseSpec) {
      const cases = Object.keys(spec.cases);
      this.diagnostics.report('MOE2012', tag.span, { what: `${what} kind`, name: tag.name }, {
        help: didYouMean(tag.name, cases) ?? `expected ${cases.map((c) => `\`${c}\``).join(', ')}`,
      });
      return undefined;
    }
    return this.body(body, caseSpec, scope, tag.span, `${what} ${tag.name}`, tag.name);
  }

  private layerRange(member: A.LayerRange, spec: BlockSpec, scope: Scope, config: Config, where: string): void {
    if (!spec.ranges) {
      this.diagnostics.report('MOE2009', member.keyword, { name: 'layers a..b', where }, { help: 'layer ranges belong in a model block' });
      return;
    }
    const from = this.field(member.from, { type: 'int', doc: 'first layer', min: 0 }, scope, 'layer range start');
    const to = this.field(member.to, { type: 'int', doc: 'last layer', min: 0 }, scope, 'layer range end');
    const inner = scope.child(bodyFrame(member.body));
    const rangeSpan: Span = { file: member.span.file, start: member.from.span.start, end: member.to.span.end };
    const body = this.body(member.body, spec.ranges, inner, rangeSpan, `layers ${textOf(from)}..${textOf(to)}`);
    if (typeof from === 'number' && typeof to === 'number') {
      config.ranges.push({ from, to, span: member.span, rangeSpan, config: body });
    }
  }

  private weighted(member: A.Weighted, spec: BlockSpec, scope: Scope, config: Config, where: string): void {
    if (!spec.rules) {
      this.diagnostics.report('MOE2009', member.name.span, { name: member.name.name, where }, {
        help: 'weighted rules `name weight = rule { ... }` belong in a reward block',
      });
      return;
    }
    const weight = this.field(member.weight, { type: 'number', doc: 'rule weight', min: 0, max: 1 }, scope, `weight of \`${member.name.name}\``);
    const raw = this.eval(member.value, scope);
    const rules = Object.keys(spec.rules);
    let tag: A.Ident | undefined;
    let body: A.Body = { kind: 'Body', span: member.value.span, members: [] };
    if (raw.t === 'variant') {
      tag = raw.tag;
      body = raw.body;
    } else if (raw.t === 'symbol') {
      tag = { kind: 'Ident', span: raw.span, name: raw.name };
    } else if (raw.t !== 'error') {
      this.diagnostics.report('MOE3001', raw.span, { expected: `a rule (${rules.join(', ')})`, found: describeRaw(raw) });
      return;
    }
    if (!tag) return;
    const ruleSpec = spec.rules[tag.name];
    if (!ruleSpec) {
      this.diagnostics.report('MOE2012', tag.span, { what: 'reward rule', name: tag.name }, {
        help: didYouMean(tag.name, rules) ?? `rules are ${rules.join(', ')}`,
      });
      return;
    }
    const ruleConfig = this.body(body, ruleSpec, scope.child(bodyFrame(body)), tag.span, `rule \`${member.name.name}\``, tag.name);
    if (typeof weight === 'number') {
      config.rules.push({
        name: member.name.name,
        nameSpan: member.name.span,
        weight,
        weightSpan: member.weight.span,
        ruleKind: tag.name,
        config: ruleConfig,
      });
    }
  }

  // ── values ──────────────────────────────────────────────────────────────────────────────────
  /** Evaluates an expression and converts it to what the field's schema wants. */
  field(expr: A.Expr, spec: FieldSpec, scope: Scope, what: string, _nameSpan?: Span): Value | undefined {
    if (spec.type === 'block' || spec.type === 'variant') {
      const raw = this.evalShallow(expr, scope);
      return this.blockValue(raw, spec, scope, what);
    }
    // enum values and block references are bare names, read before scope lookup
    const raw = spec.type === 'enum' || spec.type === 'ref' || (spec.type === 'string' && spec.word) ? this.evalSymbol(expr, scope) : this.eval(expr, scope);
    return this.coerce(raw, spec, what, this.diagnostics);
  }

  private blockValue(raw: Raw, spec: FieldSpec & { type: 'block' | 'variant' }, scope: Scope, what: string): Value | undefined {
    if (raw.t === 'error') return undefined;
    if (spec.type === 'block') {
      if (raw.t === 'map') return this.body(raw.body, spec, scope.child(bodyFrame(raw.body)), raw.span, what);
      this.diagnostics.report('MOE3001', raw.span, { expected: 'a block `{ ... }`', found: describeRaw(raw) });
      return undefined;
    }
    if (raw.t === 'variant') return this.variantCase(spec, raw.tag, raw.body, scope.child(bodyFrame(raw.body)), what);
    if (raw.t === 'symbol' || raw.t === 'none') {
      const name = raw.t === 'none' ? 'none' : raw.name;
      const empty: A.Body = { kind: 'Body', span: raw.span, members: [] };
      return this.variantCase(spec, { kind: 'Ident', span: raw.span, name }, empty, scope, what);
    }
    this.diagnostics.report('MOE3001', raw.span, { expected: describeSpec(spec), found: describeRaw(raw) });
    return undefined;
  }

  /** Like `eval`, but variant and map syntax is returned unevaluated for the schema to read. */
  private evalShallow(expr: A.Expr, scope: Scope): Raw {
    if (expr.kind === 'Variant') return { t: 'variant', tag: expr.tag, body: expr.body, span: expr.span };
    if (expr.kind === 'Map') return { t: 'map', body: expr.body, span: expr.span };
    if (expr.kind === 'Ref' && expr.path.length === 1) return { t: 'symbol', name: expr.path[0]!.name, span: expr.span };
    if (expr.kind === 'None') return { t: 'none', span: expr.span };
    return this.eval(expr, scope);
  }

  private evalSymbol(expr: A.Expr, scope: Scope): Raw {
    if (expr.kind === 'Ref' && expr.path.length === 1) return { t: 'symbol', name: expr.path[0]!.name, span: expr.span };
    return this.eval(expr, scope);
  }

  coerce(raw: Raw, spec: ValueSpec, what: string, diagnostics: DiagnosticBag): Value | undefined {
    if (raw.t === 'error') return undefined;
    const mismatch = (): undefined => {
      diagnostics.report('MOE3001', raw.span, { expected: describeSpec(spec), found: describeRaw(raw) });
      return undefined;
    };
    switch (spec.type) {
      case 'int':
      case 'number': {
        if (raw.t === 'none' && spec.type === 'number' && spec.nullable) return null;
        if (raw.t === 'symbol') return this.unknownName(raw, diagnostics);
        if (raw.t !== 'num') return mismatch();
        if (raw.dim) {
          diagnostics.report('MOE3002', raw.span, { expected: 'a plain number', found: raw.dim }, { help: 'remove the unit' });
          return undefined;
        }
        if (spec.type === 'int' && !Number.isInteger(raw.v)) return this.notWhole(raw, diagnostics);
        if (!checkRange(raw.v, spec, what, raw.span, diagnostics)) return undefined;
        return raw.v;
      }
      case 'quantity': {
        if (raw.t === 'symbol') return this.unknownName(raw, diagnostics);
        if (raw.t !== 'num') return mismatch();
        const dim = raw.dim ?? spec.dims[0]!;
        if (!spec.dims.includes(dim)) {
          diagnostics.report('MOE3002', raw.span, { expected: spec.dims.join(' or '), found: dim });
          return undefined;
        }
        if (spec.integer && !Number.isInteger(raw.v)) return this.notWhole(raw, diagnostics);
        const range = { ...(spec.min !== undefined && { min: spec.min }), ...(spec.exclusiveMin && { exclusiveMin: true }), ...(spec.max?.[dim] !== undefined && { max: spec.max[dim] }) };
        if (!checkRange(raw.v, range, what, raw.span, diagnostics, dim)) return undefined;
        return { value: raw.v, dim };
      }
      case 'bool':
        return raw.t === 'bool' ? raw.v : mismatch();
      case 'string': {
        if (spec.word && raw.t === 'symbol') return raw.name;
        if (raw.t !== 'str') return mismatch();
        if (spec.regex) {
          try {
            new RegExp(raw.v);
          } catch (error) {
            diagnostics.report('MOE3009', raw.span, { reason: (error as Error).message.replace(/^Invalid regular expression: /, '') });
            return undefined;
          }
        }
        return raw.v;
      }
      case 'enum': {
        // `none` is a keyword literal, but an enum may list it as a value (a grpo stage's `scale = none`)
        const name = raw.t === 'symbol' ? raw.name : raw.t === 'str' ? raw.v : raw.t === 'none' ? 'none' : undefined;
        if (name === undefined) return mismatch();
        if (!spec.values.includes(name)) {
          diagnostics.report('MOE2012', raw.span, { what: `${what} value`, name }, {
            help: didYouMean(name, spec.values) ?? `expected ${describeSpec(spec)}`,
          });
          return undefined;
        }
        return name;
      }
      case 'ref':
        return this.reference(raw, spec, what, diagnostics) ?? undefined;
      case 'list': {
        if (raw.t !== 'list') return mismatch();
        if (spec.length !== undefined && raw.items.length !== spec.length) {
          diagnostics.report('MOE3010', raw.span, { expected: spec.length, found: raw.items.length });
          return undefined;
        }
        const items: Value[] = [];
        let ok = true;
        for (const item of raw.items) {
          const v = this.coerce(item, spec.of, what, diagnostics);
          if (v === undefined) ok = false;
          else items.push(v);
        }
        return ok ? items : undefined;
      }
      case 'pair': {
        if (raw.t !== 'pair') return mismatch();
        const key = this.coerce(raw.key, spec.key, what, diagnostics);
        const value = this.coerce(raw.value, spec.value, what, diagnostics);
        return key === undefined || value === undefined ? undefined : { kind: 'pair', key, value };
      }
      case 'union': {
        for (const option of spec.options) {
          const scratch = new (diagnostics.constructor as new () => DiagnosticBag)();
          const v = this.coerce(raw, option, what, scratch);
          if (v !== undefined && scratch.errorCount === 0) return v;
        }
        return mismatch();
      }
    }
  }

  private reference(raw: Raw, spec: Extract<ValueSpec, { type: 'ref' }>, what: string, diagnostics: DiagnosticBag): Value | undefined {
    if (raw.t === 'str' && spec.orPath) return { kind: 'path', path: raw.v };
    if (raw.t !== 'symbol') {
      diagnostics.report('MOE3001', raw.span, { expected: describeSpec(spec), found: describeRaw(raw) });
      return undefined;
    }
    const decl = this.program.decls.get(raw.name);
    if (!decl) {
      if (this.unresolvable(raw.name)) return undefined;
      const known = [...this.program.decls]
        .filter(([, d]) => d.kind === 'block' && spec.to.includes(d.blockKind))
        .map(([n]) => n);
      diagnostics.report('MOE2002', raw.span, { name: raw.name }, {
        label: `not a ${spec.to.join(' or ')}`,
        help: didYouMean(raw.name, known) ?? (known.length ? `declared: ${known.join(', ')}` : `declare \`${spec.to[0]} ${raw.name} { ... }\``),
      });
      return undefined;
    }
    if (decl.kind !== 'block' || !spec.to.includes(decl.blockKind)) {
      const found = decl.kind === 'block' ? decl.blockKind : decl.kind;
      diagnostics.report('MOE2013', raw.span, { name: raw.name, found: withArticle(found), field: what, expected: spec.to.join(' or ') });
      return undefined;
    }
    return { kind: 'ref', name: raw.name, blockKind: decl.blockKind as BlockKindName };
  }

  /**
   * A name that cannot be resolved for a reason already reported: its block has an unknown kind
   * (MOE2001), or an import that may declare it failed. Reporting it again would be a cascade.
   */
  private unresolvable(name: string): boolean {
    return this.program.importFailed || this.program.unknownKinds.has(name);
  }

  private unknownName(raw: Extract<Raw, { t: 'symbol' }>, diagnostics: DiagnosticBag): undefined {
    if (!this.unresolvable(raw.name)) diagnostics.report('MOE2002', raw.span, { name: raw.name }, { help: didYouMean(raw.name, this.lastScopeNames) });
    return undefined;
  }

  private notWhole(raw: Extract<Raw, { t: 'num' }>, diagnostics: DiagnosticBag): undefined {
    const e = stripParens(raw.expr);
    if (e.kind === 'Binary' && e.op === '/') {
      const left = this.rawCache.get(e.left);
      const right = this.rawCache.get(e.right);
      if (left?.t === 'num' && right?.t === 'num') {
        diagnostics.report('MOE3006', raw.span, { left: formatNumber(left.v), right: formatNumber(right.v) }, {
          help: 'use floor(a / b) or ceil(a / b) if rounding is intended',
        });
        return undefined;
      }
    }
    diagnostics.report('MOE3003', raw.span, { value: formatNumber(raw.v) });
    return undefined;
  }

  // ── expressions ─────────────────────────────────────────────────────────────────────────────
  private lastScopeNames: string[] = [];

  eval(expr: A.Expr, scope: Scope): Raw {
    if (this.depth > MAX_EVAL_DEPTH) {
      this.diagnostics.report('MOE1006', expr.span, { limit: MAX_EVAL_DEPTH });
      return { t: 'error', span: expr.span };
    }
    this.depth++;
    try {
      const raw = this.evalInner(expr, scope);
      this.rawCache.set(expr, raw);
      return raw;
    } finally {
      this.depth--;
    }
  }

  private evalInner(expr: A.Expr, scope: Scope): Raw {
    const span = expr.span;
    switch (expr.kind) {
      case 'Number': {
        if (!Number.isFinite(expr.value)) {
          this.diagnostics.report('MOE3007', span, { value: `\`${expr.text}\`` });
          return { t: 'error', span };
        }
        if (!expr.unit) return { t: 'num', v: expr.value, span, expr };
        const unit = unitOf(expr.unit.name)!;
        return { t: 'num', v: expr.value * unit.factor, dim: unit.dim, span, expr };
      }
      case 'String':
        return { t: 'str', v: expr.value, raw: expr.raw, span };
      case 'Bool':
        return { t: 'bool', v: expr.value, span };
      case 'None':
        return { t: 'none', span };
      case 'List':
        return { t: 'list', items: expr.items.map((i) => this.eval(i, scope)), span };
      case 'Pair':
        return { t: 'pair', key: this.eval(expr.key, scope), value: this.eval(expr.value, scope), span };
      case 'Map':
        return { t: 'map', body: expr.body, span };
      case 'Variant':
        return { t: 'variant', tag: expr.tag, body: expr.body, span };
      case 'Paren': {
        const inner = this.eval(expr.inner, scope);
        return inner.t === 'num' ? { ...inner, span, expr } : inner;
      }
      case 'Missing':
        return { t: 'error', span };
      case 'Neg': {
        const v = this.eval(expr.operand, scope);
        if (v.t === 'error') return v;
        if (v.t !== 'num') return this.badOperands('-', v, v, span);
        return { ...v, v: -v.v, span, expr };
      }
      case 'Binary':
        return this.binary(expr, scope);
      case 'Call':
        return this.call(expr, scope);
      case 'Ref':
        return this.ref(expr, scope);
    }
  }

  private ref(expr: A.RefExpr, scope: Scope): Raw {
    const [head, ...rest] = expr.path;
    if (!head) return { t: 'error', span: expr.span };
    if (rest.length > 0) return this.qualifiedRef(head, rest, expr.span);
    const found = scope.lookup(head.name);
    if (!found) {
      this.lastScopeNames = [...new Set(scope.allNames())];
      return { t: 'symbol', name: head.name, span: expr.span };
    }
    return this.bound(found.key, found.label, found.expr, found.scope, expr.span);
  }

  /** `Block.field`: a field of another top-level block. */
  private qualifiedRef(head: A.Ident, rest: readonly A.Ident[], span: Span): Raw {
    const decl = this.program.decls.get(head.name);
    if (decl?.kind !== 'block') {
      const blocks = [...this.program.decls].filter(([, d]) => d.kind === 'block').map(([n]) => n);
      if (!this.unresolvable(head.name)) this.diagnostics.report('MOE2002', head.span, { name: head.name }, { help: didYouMean(head.name, blocks) });
      return { t: 'error', span };
    }
    let body = this.mergedBody(decl);
    let scope = this.global.child(bodyFrame(body));
    for (let i = 0; i < rest.length; i++) {
      const part = rest[i]!;
      const member = body.members.find((m) => (m.kind === 'Field' || m.kind === 'Nested') && m.name.name === part.name);
      if (!member || member.kind === 'LayerRange' || member.kind === 'Weighted') {
        const names = body.members.flatMap((m) => (m.kind === 'Field' || m.kind === 'Nested' ? [m.name.name] : []));
        this.diagnostics.report('MOE2002', part.span, { name: `${head.name}.${rest.slice(0, i + 1).map((p) => p.name).join('.')}` }, {
          help: didYouMean(part.name, names),
        });
        return { t: 'error', span };
      }
      if (member.kind === 'Field') {
        if (i !== rest.length - 1) break;
        return this.bound(member, part.name, member.value, scope, span);
      }
      body = member.body;
      scope = scope.child(bodyFrame(body));
    }
    this.diagnostics.report('MOE3001', span, { expected: 'a value', found: 'a block' });
    return { t: 'error', span };
  }

  private bound(key: object, label: string, expr: A.Expr, scope: Scope, at: Span): Raw {
    const cached = this.rawCache.get(key);
    if (cached) return relocate(cached, at);
    const cycleAt = this.inProgress.findIndex((p) => p.key === key);
    if (cycleAt >= 0) {
      const cycle = [...this.inProgress.slice(cycleAt).map((p) => p.label), label].join(' → ');
      this.diagnostics.report('MOE2014', at, { name: label, cycle });
      return { t: 'error', span: at };
    }
    this.inProgress.push({ key, label, span: at });
    try {
      const raw = this.eval(expr, scope);
      this.rawCache.set(key, raw);
      return relocate(raw, at);
    } finally {
      this.inProgress.pop();
    }
  }

  private call(expr: A.CallExpr, scope: Scope): Raw {
    const fn = FUNCTIONS[expr.callee.name];
    if (!fn) {
      this.diagnostics.report('MOE2017', expr.callee.span, { name: expr.callee.name }, { help: didYouMean(expr.callee.name, Object.keys(FUNCTIONS)) });
      return { t: 'error', span: expr.span };
    }
    const [lo, hi] = fn.arity;
    if (expr.args.length < lo || expr.args.length > hi) {
      const count = lo === hi ? String(lo) : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
      const expected = `${count} argument${hi === 1 ? '' : 's'}`;
      this.diagnostics.report('MOE3008', expr.span, { name: expr.callee.name, expected, found: expr.args.length });
      return { t: 'error', span: expr.span };
    }
    const args = expr.args.map((a) => this.eval(a, scope));
    const bad = args.find((a) => a.t !== 'num');
    if (bad) {
      if (bad.t === 'error') return bad;
      if (bad.t === 'symbol') return this.reportSymbol(bad);
      this.diagnostics.report('MOE3001', bad.span, { expected: 'a number', found: describeRaw(bad) });
      return { t: 'error', span: expr.span };
    }
    const nums = args as Extract<Raw, { t: 'num' }>[];
    const dims = new Set(nums.map((n) => n.dim));
    if (dims.size > 1) {
      this.diagnostics.report('MOE3011', expr.span, { op: expr.callee.name, left: dimName(nums[0]!.dim), right: dimName([...dims][1]) });
      return { t: 'error', span: expr.span };
    }
    const v = fn.fn(...nums.map((n) => n.v));
    if (!Number.isFinite(v)) {
      this.diagnostics.report('MOE3007', expr.span, { value: `\`${this.sourceText(expr.span)}\`` });
      return { t: 'error', span: expr.span };
    }
    const dim = nums[0]?.dim;
    return { t: 'num', v, ...(dim ? { dim } : {}), span: expr.span, expr };
  }

  private reportSymbol(raw: Extract<Raw, { t: 'symbol' }>): Raw {
    this.unknownName(raw, this.diagnostics);
    return { t: 'error', span: raw.span };
  }

  private binary(expr: A.BinaryExpr, scope: Scope): Raw {
    const left = this.eval(expr.left, scope);
    const right = this.eval(expr.right, scope);
    const span = expr.span;
    if (left.t === 'error') return left;
    if (right.t === 'error') return right;
    if (left.t === 'symbol') return this.reportSymbol(left);
    if (right.t === 'symbol') return this.reportSymbol(right);
    if (left.t !== 'num' || right.t !== 'num') return this.badOperands(expr.op, left, right, span);
    const result = (v: number, dim: typeof left.dim): Raw => {
      if (!Number.isFinite(v)) {
        this.diagnostics.report('MOE3007', span, { value: `\`${this.sourceText(span)}\`` });
        return { t: 'error', span };
      }
      return { t: 'num', v, ...(dim ? { dim } : {}), span, expr };
    };
    switch (expr.op) {
      case '+':
      case '-':
        if (left.dim !== right.dim) return this.badOperands(expr.op, left, right, span);
        return result(expr.op === '+' ? left.v + right.v : left.v - right.v, left.dim);
      case '*':
        if (left.dim && right.dim) return this.badOperands(expr.op, left, right, span);
        return result(left.v * right.v, left.dim ?? right.dim);
      case '/':
      case '%': {
        if (right.v === 0) {
          this.diagnostics.report('MOE3005', expr.right.span, {});
          return { t: 'error', span };
        }
        if (right.dim && left.dim !== right.dim) return this.badOperands(expr.op, left, right, span);
        const v = expr.op === '/' ? left.v / right.v : left.v % right.v;
        return result(v, right.dim ? undefined : left.dim);
      }
    }
  }

  private sourceText(span: Span): string {
    return this.program.sources.get(span.file)?.text.slice(span.start, span.end) ?? 'the value';
  }

  private badOperands(op: string, left: Raw, right: Raw, span: Span): Raw {
    this.diagnostics.report('MOE3011', span, { op, left: describeRaw(left), right: describeRaw(right) });
    return { t: 'error', span };
  }
}

function dimName(dim: string | undefined): string {
  return dim ? `a quantity in ${dim}` : 'a number';
}

/** A value read through a name is reported at the name, not at its definition. */
function relocate(raw: Raw, span: Span): Raw {
  return { ...raw, span };
}

function stripParens(e: A.Expr): A.Expr {
  return e.kind === 'Paren' ? stripParens(e.inner) : e;
}

function valueSpan(member: A.Field | A.Nested): Span {
  return member.kind === 'Field' ? member.value.span : member.span;
}

function textOf(v: Value | undefined): string {
  return typeof v === 'number' ? String(v) : '?';
}

function checkRange(
  v: number,
  spec: { min?: number; max?: number; exclusiveMin?: boolean },
  what: string,
  span: Span,
  diagnostics: DiagnosticBag,
  /** a quantity's dimension: bounds and value are in its base unit, and say so */
  dim?: string,
): boolean {
  const { min, max, exclusiveMin } = spec;
  const unit = dim ? ` ${dim}` : '';
  let bound: string | undefined;
  if (min !== undefined && (exclusiveMin ? v <= min : v < min)) bound = exclusiveMin ? `greater than ${min}` : `at least ${min}`;
  else if (max !== undefined && v > max) bound = `at most ${formatNumber(max)}`;
  if (bound === undefined) return true;
  if (min !== undefined && max !== undefined) bound = `in ${exclusiveMin ? '(' : '['}${min}, ${formatNumber(max)}]`;
  diagnostics.report('MOE3004', span, { field: what, bound: bound + unit, value: formatNumber(v) + unit });
  return false;
}

/** The schema default of a field, building default sub-blocks through `build`. */
function defaultValue(field: FieldSpec, build: (spec: BlockSpec, tag?: string) => Config): Value | undefined {
  switch (field.type) {
    case 'block':
      return field.optional ? undefined : build(field);
    case 'variant': {
      if (field.default === undefined) return undefined;
      const caseSpec = field.cases[field.default];
      return caseSpec ? build(caseSpec, field.default) : undefined;
    }
    case 'list':
      return field.default ? [...field.default] : undefined;
    case 'union':
      return typeof field.default === 'object' ? [...field.default] : field.default;
    case 'ref':
    case 'pair':
      return undefined;
    default:
      return field.default;
  }
}

/** `a pretrain`, `an eval`: the kind a reference found, for MOE2013. */
function withArticle(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
