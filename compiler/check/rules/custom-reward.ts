/**
 * A custom rule names `file.ts#function` relative to the spec; the file must exist inside the spec
 * folder, declare the function (MOE6002), and the function must have the reward signature
 * `(completion: string, sample: Record<string, unknown>) => number | Promise<number>` (MOE6013).
 *
 * The signature check type-checks with the TypeScript inside ts-morph, which costs: loading the
 * compiler alone takes a good part of a second. So ts-morph is required only when a spec has a
 * custom rule, one in-memory Project serves the whole check run, the reward file is read through
 * the program's host (not the disk), and instead of the standard library (lib.es5.d.ts alone takes
 * ~50 ms to parse and bind) the Project gets a few lines declaring the core types the checker needs
 * and the signature names. The price: the file's imports are not followed and library calls it makes
 * (`Math.max`, `str.trim()`) have unknown types, which TypeScript treats as assignable to anything,
 * so the check only rejects what it can prove wrong. Explicit annotations are checked exactly.
 */
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import type * as TsMorph from 'ts-morph';
import { escapes } from '../../../util/files.js';
import { resolveSpecPath } from '../../bind/program.js';
import { didYouMean } from '../../../util/did-you-mean.js';
import type { Rule } from '../context.js';

/** Names a module exports as functions or bindings (`export [async] function f`, `export const f`). */
function exportedNames(source: string): string[] {
  return [...source.matchAll(/export\s+(?:async\s+)?(?:function\s*\*?\s*|const\s+|let\s+)([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!);
}

export const REWARD_SIGNATURE = '(completion: string, sample: Record<string, unknown>) => number | Promise<number>';

/** The global types TypeScript cannot work without, plus those the reward signature names. */
const CORE_TYPES = `
interface Array<T> { length: number; [n: number]: T }
interface ReadonlyArray<T> { readonly length: number; readonly [n: number]: T }
interface Boolean {} interface Function {} interface CallableFunction {} interface NewableFunction {}
interface IArguments {} interface Number {} interface Object {} interface RegExp {} interface Symbol {}
interface String { readonly length: number }
interface TemplateStringsArray extends ReadonlyArray<string> {}
interface PromiseLike<T> {
  then<A = T, B = never>(ok?: ((value: T) => A | PromiseLike<A>) | null, no?: ((reason: unknown) => B | PromiseLike<B>) | null): PromiseLike<A | B>;
}
interface Promise<T> {
  then<A = T, B = never>(ok?: ((value: T) => A | PromiseLike<A>) | null, no?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B>;
}
type PropertyKey = string | number | symbol;
type Record<K extends keyof any, T> = { [P in K]: T };
type Partial<T> = { [P in keyof T]?: T[P] };
type Readonly<T> = { readonly [P in keyof T]: T[P] };
type Awaited<T> = T extends PromiseLike<infer U> ? Awaited<U> : T;
`;

export interface SignatureMismatch {
  /** the function's type as TypeScript prints it */
  readonly found: string;
  /** TypeScript's elaboration: which parameter or the return type does not fit, one line each */
  readonly reasons: string[];
}

/** One in-memory TypeScript project for a check run; files are added as rules name them. */
class SignatureChecker {
  private readonly tsm: typeof TsMorph;
  private readonly project: TsMorph.Project;
  private probes = 0;

  constructor() {
    // ts-morph is CommonJS; a synchronous require keeps rules synchronous and defers the cost
    this.tsm = createRequire(import.meta.url)('ts-morph') as typeof TsMorph;
    const { ts } = this.tsm;
    this.project = new this.tsm.Project({
      useInMemoryFileSystem: true,
      skipLoadingLibFiles: true,
      compilerOptions: {
        noLib: true,
        types: [],
        strict: true,
        allowJs: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
      },
    });
    this.project.createSourceFile('/__moe__/core.d.ts', CORE_TYPES);
  }

  /** Undefined when `name` in `path` is assignable to the reward signature. */
  check(path: string, source: string, name: string): SignatureMismatch | undefined {
    const { ts } = this.tsm;
    if (!this.project.getSourceFile(path)) this.project.createSourceFile(path, source);
    const probe = this.project.createSourceFile(
      `${dirname(path)}/__moe_reward_probe_${this.probes++}__.ts`,
      `import { ${name} as candidate } from './${basename(path)}';\nexport const reward: ${REWARD_SIGNATURE} = candidate;\n`,
    );
    const program = this.project.getProgram().compilerObject;
    // 2322: "Type 'X' is not assignable to type 'Y'" at `reward`; other errors belong to MOE6002
    const mismatch = program.getSemanticDiagnostics(program.getSourceFile(probe.getFilePath())).find((d) => d.code === 2322);
    if (!mismatch) return undefined;
    const candidate = probe.getImportDeclarations()[0]!.getNamedImports()[0]!.getAliasNode()!;
    const found = candidate.getType().getText(candidate, ts.TypeFormatFlags.NoTruncation);
    const lines = ts.flattenDiagnosticMessageText(mismatch.messageText, '\n').split('\n');
    return { found, reasons: lines.slice(1).map((l) => l.trim().replace(/\.$/, '')).filter(Boolean) };
  }
}

export const customReward: Rule = {
  name: 'custom-reward',
  check(ctx) {
    let signatures: SignatureChecker | undefined;
    for (const reward of ctx.ofKind('reward')) {
      for (const rule of reward.config.rules) {
        if (rule.ruleKind !== 'custom') continue;
        const ref = rule.config.str('function');
        if (ref === undefined) continue;
        const span = rule.config.spanOf('function');
        const match = /^(.+\.(?:ts|mts|js|mjs))#([A-Za-z_$][\w$]*)$/.exec(ref);
        if (!match) {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: 'expected `file.ts#functionName`' });
          continue;
        }
        const [, file, name] = match as unknown as [string, string, string];
        const path = resolveSpecPath(reward.decl.node.span.file, file);
        if (!ctx.program.options.allowOutside && escapes(ctx.program.root, path)) {
          ctx.diagnostics.report('MOE2006', span, { path: file }, { help: 'pass --allow-outside to permit it' });
          continue;
        }
        const bytes = ctx.program.host.readFile(path);
        if (typeof bytes === 'string') {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: `cannot read ${file}: ${bytes}` });
          continue;
        }
        const source = new TextDecoder().decode(bytes);
        const exported = exportedNames(source);
        if (!exported.includes(name)) {
          ctx.diagnostics.report('MOE6002', span, { ref, reason: `${file} exports no function \`${name}\`` }, {
            help: didYouMean(name, exported) ?? (exported.length ? `it exports ${exported.map((n) => `\`${n}\``).join(', ')}` : 'export the function'),
          });
          continue;
        }
        signatures ??= new SignatureChecker();
        const mismatch = signatures.check(path, source, name);
        if (mismatch) {
          ctx.diagnostics.report('MOE6013', span, { ref }, {
            label: "the function's type does not fit",
            notes: [`expected ${REWARD_SIGNATURE}`, `   found ${mismatch.found}`, ...mismatch.reasons.map((r) => `because ${r.charAt(0).toLowerCase()}${r.slice(1)}`)],
            help: 'take `(completion: string, sample: Record<string, unknown>)` and return a number in [0, 1] or a promise of one',
          });
        }
      }
    }
  },
};
