/**
 * The tokenizer a checkpoint was trained with, for commands that take text: an explicit HF
 * `tokenizer.json`, else the tokenizer of the stage that wrote the checkpoint (trainer_state.json
 * names it), else the spec's only tokenizer. Data and tokenizer files are found relative to the spec
 * the checkpoint's graph was compiled from (`document.source`, relative to the working folder).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GraphDocument } from '../../compiler/ir/types.js';
import { RuntimeError } from '../errors.js';
import { hfTokenizer } from '../data/hf-tokenizer.js';
import { openTokenizer } from '../data/open-tokenizer.js';
import type { Tokenizer } from '../data/tokenizer.js';

function stageOf(checkpoint: string): string | undefined {
  const path = join(checkpoint, 'trainer_state.json');
  if (!existsSync(path)) return undefined;
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as { stage?: unknown };
    return typeof state.stage === 'string' ? state.stage : undefined;
  } catch {
    return undefined;
  }
}

/** `file`: an HF tokenizer.json given by the user; `cwd`: the folder `document.source` is relative to. */
export function checkpointTokenizer(checkpoint: string, document: GraphDocument, cwd: string, file?: string): Tokenizer {
  if (file !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new RuntimeError(`cannot read the tokenizer ${file}: ${(error as Error).message}`);
    }
    return hfTokenizer(json, {}, file);
  }
  const { tokenizers, data, stages } = document.plan;
  const stage = stages.find((s) => s.name === stageOf(checkpoint));
  const named = typeof stage?.hyper.tokenizer === 'string' ? stage.hyper.tokenizer : undefined;
  const names = Object.keys(tokenizers);
  const name = named ?? (names.length === 1 ? names[0] : undefined);
  const block = name === undefined ? undefined : tokenizers[name];
  if (!block) {
    throw new RuntimeError(
      names.length === 0 ? 'the checkpoint\'s spec declares no tokenizer, so text cannot be turned into ids' : `cannot tell which of the spec's tokenizers (${names.join(', ')}) this checkpoint uses`,
      'pass token ids with --ids, or an HF tokenizer.json with --tokenizer',
    );
  }
  return openTokenizer(block, data, resolve(cwd, dirname(document.source)));
}
