/**
 * `moe init SPEC -o CHECKPOINT [--model NAME] [--seed N] [--tokenizer NAME]`: a checkpoint of freshly
 * initialised weights, carrying its tokenizer's HF files like every other checkpoint, so the folder
 * generates wherever it is copied.
 */
import { dirname, resolve } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { renderText } from '../../compiler/diagnostics/render.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import type { GraphDocument, ModelGraph } from '../../ir/types.js';
import { openTokenizer } from '../../runtime/data/open-tokenizer.js';
import type { TokenizerFiles } from '../../runtime/data/tokenizer.js';
import { writeCheckpoint } from '../../runtime/io/checkpoint.js';
import { modelOf } from '../../runtime/load.js';
import { ParamStore } from '../../runtime/model/params.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface InitOptions {
  readonly out: string;
  readonly model?: string;
  readonly seed?: string;
  readonly tokenizer?: string;
}

/** `--tokenizer NAME`, else the tokenizer of the model's first training stage, else the spec's only one. */
export function initTokenizerName(document: GraphDocument, model: ModelGraph, option?: string): string | undefined {
  const names = Object.keys(document.plan.tokenizers);
  if (option !== undefined) {
    if (!names.includes(option)) throw new UsageError(`the spec has no tokenizer ${option}; its tokenizers: ${names.join(', ') || 'none'}`);
    return option;
  }
  const training = document.plan.stages.find((s) => s.model === model.name && typeof s.hyper.tokenizer === 'string');
  if (typeof training?.hyper.tokenizer === 'string') return training.hyper.tokenizer;
  return names.length === 1 ? names[0] : undefined;
}

function tokenizerFiles(document: GraphDocument, name: string | undefined, specDir: string): TokenizerFiles | undefined {
  if (name === undefined) return undefined;
  return openTokenizer(document.plan.tokenizers[name]!, document.plan.data, specDir).hfFiles();
}

export async function runInit(spec: string, options: InitOptions, io: CliIo): Promise<number> {
  const path = existingPath(io, spec, 'file');
  const seed = Number(options.seed ?? 0);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed takes a whole number, found \`${options.seed}\``);
  const checked = checkFile(path, nodeHost);
  for (const d of checked.diagnostics) io.stderr(`${renderText(d, checked.program.sources, { color: io.color, cwd: io.cwd })}\n\n`);
  if (checked.errorCount > 0) return EXIT.specErrors;
  const document = lowerSpec(checked, io.cwd);
  const model = modelOf(document, options.model);
  const name = initTokenizerName(document, model, options.tokenizer);
  const tokenizer = tokenizerFiles(document, name, dirname(path));
  const store = ParamStore.initialise(model, seed);
  try {
    const { params, state } = await store.snapshot();
    writeCheckpoint(resolve(io.cwd, options.out), { document, model: model.name, params, state, ...(tokenizer ? { tokenizer } : {}) });
  } finally {
    store.dispose();
  }
  const carried = name === undefined ? 'no tokenizer: the spec has several, choose one with --tokenizer' : `tokenizer ${name}`;
  io.stdout(`wrote ${options.out} (${model.name}, seed ${seed}, ${carried})\n`);
  return EXIT.ok;
}
