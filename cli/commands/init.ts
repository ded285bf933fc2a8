/** `moe init SPEC -o CHECKPOINT [--model NAME] [--seed N]`: a checkpoint of freshly initialised weights. */
import { resolve } from 'node:path';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { renderText } from '../../compiler/diagnostics/render.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { writeCheckpoint } from '../../runtime/io/checkpoint.js';
import { modelOf } from '../../runtime/load.js';
import { ParamStore } from '../../runtime/model/params.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';

export interface InitOptions {
  readonly out: string;
  readonly model?: string;
  readonly seed?: string;
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
  const store = ParamStore.initialise(model, seed);
  try {
    const { params, state } = await store.snapshot();
    writeCheckpoint(resolve(io.cwd, options.out), { document, model: model.name, params, state });
  } finally {
    store.dispose();
  }
  io.stdout(`wrote ${options.out} (${model.name}, seed ${seed})\n`);
  return EXIT.ok;
}
