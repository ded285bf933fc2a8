/**
 * `--emit ts`: the generated module exports the graph with literal types, and code importing it
 * is type-checked: a consumer that uses it correctly compiles clean, one that names a parameter
 * that does not exist or assumes a wrong shape fails with the expected errors. Checked with
 * ts-morph's bundled TypeScript and with the installed `tsc`.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Project, ts } from 'ts-morph';
import { beforeAll, describe, expect, it } from 'vitest';
import { EMITTERS } from '../../compiler/codegen/index.js';
import type { GraphDocument } from '../../ir/types.js';
import { graphModule, objectLiteral, tsString } from '../../compiler/codegen/typescript.js';
import { example, root, tempDir } from './helpers.js';

const GOOD = `import { graph, type Graph, type ModelName, type ParamName, type ParamShapes, type PipelineName, type StageName } from './r1-tiny.graph.js';

const embed: ParamShapes['model.embed_tokens.weight'] = [320, 32];
const [vocab, dim]: readonly [320, 32] = embed;
const expert: ParamShapes['model.layers.1.mlp.experts.3.gate_proj.weight'] = [32, 32];
const dense: ParamShapes['model.layers.0.mlp.up_proj.weight'] = [128, 32];
const template: ParamName = 'model.layers.1.mlp.experts.{j}.gate_proj.weight';
const instance: ParamName = 'model.layers.1.mlp.experts.2.down_proj.weight';
const names: readonly ParamName[] = graph.models[0].params.map((p) => p.name);
const stage: StageName = 'reason';
const pipeline: PipelineName = 'recipe';
const model: ModelName = graph.models[0].name;
const width: 32 = graph.models[0].config.dim;
const op: Graph['models'][0]['nodes'][number]['op'] = 'attention.gqa';

function shape<N extends keyof ParamShapes>(_name: N, value: ParamShapes[N]): ParamShapes[N] {
  return value;
}
const head = shape('lm_head.weight', [320, 32]);

export const used = [vocab, dim, expert, dense, template, instance, names, stage, pipeline, model, width, op, head];
`;

const BAD = `import type { ParamName, ParamShapes, StageName } from './r1-tiny.graph.js';

export const wrongName: ParamShapes['model.embed_token.weight'] = [320, 32];
export const wrongShape: ParamShapes['model.embed_tokens.weight'] = [32, 320];
export const wrongLayer: ParamName = 'model.layers.9.mlp.experts.1.gate_proj.weight';
export const wrongStage: StageName = 'finetune';
`;

const COMPILER_OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  strict: true,
  noUncheckedIndexedAccess: true,
  noEmit: true,
  skipLibCheck: false,
  types: [],
} as const;

interface Problem {
  readonly file: string;
  readonly line: number;
  readonly code: number;
  readonly message: string;
}

function writeFolder(): string {
  const dir = tempDir('moe-ts-consumer-');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: COMPILER_OPTIONS, files: ['good.ts', 'bad.ts'] }, null, 2));
  writeFileSync(join(dir, 'r1-tiny.graph.ts'), graphModule(example('r1-tiny')));
  writeFileSync(join(dir, 'good.ts'), GOOD);
  writeFileSync(join(dir, 'bad.ts'), BAD);
  return dir;
}

/** Type-checks the folder with ts-morph's TypeScript (its lib files are built in). */
function checkWithTsMorph(dir: string): Problem[] {
  const project = new Project({ tsConfigFilePath: join(dir, 'tsconfig.json') });
  return ts.getPreEmitDiagnostics(project.getProgram().compilerObject).map((d) => ({
    file: d.file ? d.file.fileName.split('/').pop()! : '',
    line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    code: d.code,
    message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
  }));
}

/** Type-checks the folder with the installed `tsc`. */
function checkWithTsc(dir: string): Problem[] {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  return run.stdout
    .split('\n')
    .map((l) => /^(.*?)\((\d+),\d+\): error TS(\d+): (.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ file: m[1]!.split('/').pop()!, line: Number(m[2]), code: Number(m[3]), message: m[4]! }));
}

function expectVerdict(problems: readonly Problem[]): void {
  expect(problems.filter((p) => p.file !== 'bad.ts')).toEqual([]);
  const bad = problems.filter((p) => p.file === 'bad.ts');
  const at = (line: number): Problem[] => bad.filter((p) => p.line === line);
  expect([...new Set(bad.map((p) => p.line))]).toEqual([3, 4, 5, 6]);
  // a parameter that does not exist
  expect(at(3).map((p) => [p.code, p.message])).toEqual([[2339, "Property 'model.embed_token.weight' does not exist on type 'ParamShapes'."]]);
  // the embedding is [320, 32], not [32, 320]
  expect(at(4).map((p) => [p.code, p.message])).toEqual([
    [2322, "Type '32' is not assignable to type '320'."],
    [2322, "Type '320' is not assignable to type '32'."],
  ]);
  // layer 9 does not exist (TS suggests the closest name: code 2820)
  expect(at(5).map((p) => p.code)).toEqual([2820]);
  expect(at(5)[0]!.message).toMatch(/^Type '"model\.layers\.9\.mlp\.experts\.1\.gate_proj\.weight"' is not assignable to type 'ParamName'\. Did you mean/);
  expect(at(6).map((p) => [p.code, p.message])).toEqual([[2322, `Type '"finetune"' is not assignable to type 'StageName'.`]]);
}

describe('ts: the generated module type-checks its users', () => {
  let dir = '';
  beforeAll(() => {
    dir = writeFolder();
  });

  it('with ts-morph: the correct consumer compiles clean, the wrong one fails with specific errors', () => {
    expectVerdict(checkWithTsMorph(dir));
  });

  it('with the installed tsc (TypeScript 5.9)', () => {
    expectVerdict(checkWithTsc(dir));
  });
});

describe('ts: the module text', () => {
  const v3 = graphModule(example('deepseek-v3'));

  it('exports the graph as const and the parameter, shape and stage types', () => {
    expect(v3).toContain('export const graph = {\n  ir_version: 2,\n');
    expect(v3).toMatch(/\n} as const;\n/);
    expect(v3).toContain("export type ParamName =\n  | 'model.embed_tokens.weight'\n");
    expect(v3).toContain("  | 'model.layers.3.mlp.experts.{j}.gate_proj.weight'\n");
    expect(v3).toContain('  | `model.layers.3.mlp.experts.${number}.gate_proj.weight`\n');
    expect(v3).toContain("  readonly 'model.embed_tokens.weight': readonly [129280, 7168];\n");
    expect(v3).toContain('  readonly [name: `model.layers.60.mlp.experts.${number}.down_proj.weight`]: readonly [7168, 2048];\n');
    expect(v3).toContain("export type StageName = 'base';");
    expect(v3).toContain('export type PipelineName = never;');
  });

  it('parses without syntax errors, and stays within 1.1× the JSON for the 671B model', () => {
    const file = ts.createSourceFile('deepseek-v3.graph.ts', v3, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
    const parseErrors = (file as unknown as { parseDiagnostics: readonly ts.Diagnostic[] }).parseDiagnostics;
    expect(parseErrors).toEqual([]);
    expect(v3.length).toBeLessThan(1.1 * JSON.stringify(example('deepseek-v3'), null, 1).length);
  });

  it('round-trips: the exported graph equals the document, odd strings included', async () => {
    const doc = example('r1-tiny');
    const odd = "a/*b*/ 'c' // \"d\" `${e}` \\ \n\u2028 é";
    const weird: GraphDocument = { ...doc, plan: { ...doc.plan, data: { ...doc.plan.data, [odd]: { source: odd, 'key with spaces': odd } } } };
    const js = ts.transpileModule(graphModule(weird), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const path = join(tempDir('moe-ts-roundtrip-'), 'graph.mjs');
    writeFileSync(path, js);
    const loaded = (await import(pathToFileURL(path).href)) as { graph: unknown };
    expect(loaded.graph).toEqual(weird);
  });

  it('names per-model types when a spec declares several models', () => {
    const doc = example('r1-tiny');
    const two = { ...doc, models: [doc.models[0]!, { ...doc.models[0]!, name: 'Twin' }] };
    const text = graphModule(two, 'two');
    expect(text).toContain('export type R1TinyParamName =');
    expect(text).toContain('export type TwinParamShapes = {');
    expect(text).toContain("export type ModelName =\n  | 'R1Tiny'\n  | 'Twin';");
    expect(text).not.toMatch(/export type ParamName\b/);
  });

  it('writes keys and strings as TypeScript literals', () => {
    expect(tsString("it's \"q\"\n\\")).toBe(`'it\\'s "q"\\n\\\\'`);
    expect(objectLiteral({ a: 1, 'b.c': ['x'], d: null, e: { f: true } })).toBe("{ a: 1, 'b.c': ['x'], d: null, e: { f: true } }");
  });

  it('writes NAME.graph.ts', async () => {
    const result = await EMITTERS.ts(example('r1-tiny'));
    if ('error' in result) throw new Error(result.error);
    expect(result.files.map((f) => f.name)).toEqual(['r1-tiny.graph.ts']);
  });
});
