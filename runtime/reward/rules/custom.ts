/**
 * `custom`: a function the spec names as `file.ts#name`, relative to the spec's folder, with the
 * signature `(completion: string, sample: Record<string, unknown>) => number | Promise<number>`
 * (the checker verifies it, MOE6013). A `.ts`/`.mts` file is transpiled with the TypeScript that
 * ships inside ts-morph (a runtime dependency; `typescript` itself is a dev dependency) into a
 * temporary `.mjs`, imported, and the temporary file removed; `.js`/`.mjs` files are imported as
 * they are. The transpiled copy lives in a temporary folder, so a TypeScript reward file must be
 * self-contained: it may import `node:` built-ins, not its neighbours. The function is the user's
 * own code and runs unsandboxed, a bounded number of calls at a time.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RuntimeError } from '../../errors.js';
import { readString, type RuleAttrs } from '../attrs.js';
import { mapLimit } from '../limit.js';
import type { Outcome, RuleScorer } from '../types.js';

export type RewardFunction = (completion: string, sample: Record<string, unknown>) => unknown;

async function importTranspiled(path: string): Promise<Record<string, unknown>> {
  const { ts } = await import('ts-morph');
  const source = await readFile(path, 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  const dir = await mkdtemp(join(tmpdir(), 'moe-reward-'));
  try {
    const file = join(dir, `${basename(path).replace(/\.[cm]?ts$/, '')}.mjs`);
    await writeFile(file, outputText);
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Loads `file#name` relative to `specDir`; fails with a RuntimeError that says what is wrong. */
export async function loadRewardFunction(ref: string, specDir: string): Promise<RewardFunction> {
  const match = /^(.+\.([cm]?[tj]s))#([A-Za-z_$][\w$]*)$/.exec(ref);
  if (!match) throw new RuntimeError(`custom reward \`${ref}\`: expected \`file.ts#functionName\``);
  const [, file, ext, name] = match as unknown as [string, string, string, string];
  const path = resolve(specDir, file);
  let module: Record<string, unknown>;
  try {
    module = ext.endsWith('ts') ? await importTranspiled(path) : ((await import(pathToFileURL(path).href)) as Record<string, unknown>);
  } catch (e) {
    throw new RuntimeError(`custom reward \`${ref}\`: cannot load ${path}: ${(e as Error).message}`);
  }
  const fn = module[name];
  if (typeof fn !== 'function') throw new RuntimeError(`custom reward \`${ref}\`: ${file} exports no function \`${name}\``);
  return fn as RewardFunction;
}

export async function customRule(attrs: RuleAttrs, specDir: string, concurrency: number): Promise<RuleScorer> {
  const fn = await loadRewardFunction(readString(attrs, 'function'), specDir);
  const one = async (completion: string, sample: Readonly<Record<string, unknown>>): Promise<Outcome> => {
    // a shallow copy: the function's signature promises a mutable record, the batch's samples are shared
    return { value: await fn(completion, { ...sample }) };
  };
  return {
    score: (items) =>
      mapLimit(items, concurrency, async (item) => {
        try {
          return await one(item.completion, item.sample);
        } catch (e) {
          return { value: 0, problem: `threw ${e instanceof Error ? e.message : String(e)}` };
        }
      }),
    close: () => Promise.resolve(),
  };
}
