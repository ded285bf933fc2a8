/**
 * What the semantic rules see: every block's checked config by kind, the pipelines, and helpers that
 * follow `from` chains to a stage's model and tokenizer.
 */
import { STAGE_KINDS, type BlockKindName, type StageKindName } from '../../grammar/tokens.js';
import type { Decl, Program } from '../bind/program.js';
import type { DiagnosticBag } from '../diagnostics/diagnostic.js';
import type * as A from '../syntax/ast.js';
import type { ModelShape } from '../stats/shape.js';
import type { Elaborator } from './elaborate.js';
import { modelShape } from './model-shape.js';
import type { Config } from './values.js';

export interface CheckedBlock {
  readonly name: string;
  readonly kind: BlockKindName;
  readonly decl: Extract<Decl, { kind: 'block' }>;
  readonly config: Config;
}

export class CheckContext {
  readonly blocks = new Map<string, CheckedBlock>();
  readonly pipelines: A.Pipeline[] = [];
  private readonly shapes = new Map<string, ModelShape | undefined>();

  constructor(
    readonly program: Program,
    readonly elaborator: Elaborator,
    readonly diagnostics: DiagnosticBag,
  ) {
    for (const [name, decl] of program.decls) {
      if (decl.kind === 'pipeline') this.pipelines.push(decl.node);
      if (decl.kind !== 'block') continue;
      const config = elaborator.block(name);
      if (config) this.blocks.set(name, { name, kind: decl.blockKind, decl, config });
    }
  }

  ofKind(kind: BlockKindName): CheckedBlock[] {
    return [...this.blocks.values()].filter((b) => b.kind === kind);
  }

  stages(): (CheckedBlock & { kind: StageKindName })[] {
    return [...this.blocks.values()].filter((b): b is CheckedBlock & { kind: StageKindName } =>
      (STAGE_KINDS as readonly string[]).includes(b.kind),
    );
  }

  isStage(name: string): boolean {
    const b = this.blocks.get(name);
    return b !== undefined && (STAGE_KINDS as readonly string[]).includes(b.kind);
  }

  /** The shape of a model block (memoized), undefined when broken. */
  shape(modelName: string): ModelShape | undefined {
    if (this.shapes.has(modelName)) return this.shapes.get(modelName);
    const block = this.blocks.get(modelName);
    const shape = block?.kind === 'model' ? modelShape(block.config) : undefined;
    this.shapes.set(modelName, shape);
    return shape;
  }

  /** Follows `from` to the first stage that names a field (`model`, `tokenizer`). */
  inherited(stage: CheckedBlock, field: 'model' | 'tokenizer'): string | undefined {
    const seen = new Set<string>();
    let current: CheckedBlock | undefined = stage;
    while (current && !seen.has(current.name)) {
      seen.add(current.name);
      const ref = current.config.ref(field);
      if (ref?.kind === 'ref') return ref.name;
      const from = current.config.ref('from');
      current = from?.kind === 'ref' ? this.blocks.get(from.name) : undefined;
    }
    return undefined;
  }

  /**
   * Whether neither the stage nor any stage it starts `from` sets `field`. A field set to an invalid
   * value counts as set, and an unreadable or cyclic `from` as unknown: both are already reported.
   */
  lacks(stage: CheckedBlock, field: 'model' | 'tokenizer'): boolean {
    const seen = new Set<string>();
    let current: CheckedBlock | undefined = stage;
    while (current && !seen.has(current.name)) {
      seen.add(current.name);
      if (current.config.sets(field)) return false;
      if (!current.config.sets('from')) return true;
      const from = current.config.ref('from');
      if (from?.kind === 'path') return true;
      current = from ? this.blocks.get(from.name) : undefined;
    }
    return false;
  }
}

export interface Rule {
  /** kebab-case, the file name */
  readonly name: string;
  check(ctx: CheckContext): void;
}
