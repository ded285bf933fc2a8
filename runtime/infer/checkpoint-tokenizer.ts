/**
 * The tokenizer a checkpoint was trained with, for commands that take text: an explicit HF
 * `tokenizer.json`, else the checkpoint's own copy (`tokenizer.json` and `tokenizer_config.json` in
 * its folder, written with the weights: runtime/data/tokenizer-files.ts), so a checkpoint folder
 * works wherever it is copied. Checkpoints written before the tokenizer travelled with them fall
 * back to the tokenizer of the stage that wrote the checkpoint (trainer_state.json names it), else
 * the spec's only tokenizer, found relative to the spec the checkpoint's graph was compiled from
 * (`document.source`, relative to the working folder).
 *
 * A checkpoint may come from anywhere, so its files are hostile input: its own tokenizer files are
 * read only when they resolve (symlinks included) inside the checkpoint folder; the files its
 * graph.json names only inside the folder of its spec, and that folder must lie inside the working
 * folder; otherwise a graph naming `/etc/shadow` as its tokenizer, or `/etc/x.moe` as its spec,
 * would have the file read.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { escapes } from '../../util/files.js';
import { hasMagic, literalPrefix } from '../../util/glob.js';
import type { GraphDocument } from '../../ir/types.js';
import { RuntimeError } from '../errors.js';
import type { DataBlock } from '../data/dataset.js';
import { hfTokenizer } from '../data/hf-tokenizer.js';
import { readJsonFile } from '../data/json-file.js';
import { openTokenizer } from '../data/open-tokenizer.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { TOKENIZER_FILE, readTokenizerFolder, tokenizerFromFiles } from '../data/tokenizer-files.js';

const HINT = 'pass an HF tokenizer.json with --tokenizer, or token ids with --ids';

function stageOf(checkpoint: string): string | undefined {
  const path = join(checkpoint, 'trainer_state.json');
  if (!existsSync(path)) return undefined;
  try {
    const state = readJsonFile(path, 'the trainer state', 2 ** 20) as { stage?: unknown } | null;
    return typeof state?.stage === 'string' ? state.stage : undefined;
  } catch {
    return undefined;
  }
}

/** The files a tokenizer block reads: an `hf` tokenizer's file, a `bpe` tokenizer's corpus. */
function filesOf(block: DataBlock, data: { readonly [name: string]: DataBlock }): string[] {
  if (block['kind'] === 'hf') return typeof block['file'] === 'string' ? [block['file']] : [];
  if (block['kind'] !== 'bpe' || typeof block['train_on'] !== 'string') return [];
  const source = data[block['train_on']]?.['source'];
  return typeof source === 'string' ? [source] : [];
}

/** The folder of the checkpoint's spec, refused unless it and every file the tokenizer reads stay inside it. */
function confinedSpecDir(document: GraphDocument, cwd: string, files: readonly string[]): string {
  const specDir = resolve(cwd, dirname(document.source));
  if (escapes(cwd, specDir)) {
    throw new RuntimeError(`the checkpoint's graph.json names its spec ${document.source}, outside the working folder ${cwd}`, `run the command from the folder the spec was compiled in, or ${HINT}`);
  }
  for (const file of files) {
    // a glob's matches are checked by the reader (readSource); its fixed part cannot leave either
    const target = resolve(specDir, file);
    if (escapes(specDir, hasMagic(file) ? literalPrefix(target) : target)) {
      throw new RuntimeError(`the checkpoint's graph.json names the tokenizer file ${file}, outside its spec folder ${specDir}`, HINT);
    }
  }
  return specDir;
}

/** `file`: an HF tokenizer.json given by the user; `cwd`: the folder `document.source` is relative to. */
export function checkpointTokenizer(checkpoint: string, document: GraphDocument, cwd: string, file?: string): Tokenizer {
  if (file !== undefined) return hfTokenizer(readJsonFile(file, 'the tokenizer'), {}, file);
  const own = readTokenizerFolder(checkpoint);
  if (own) return tokenizerFromFiles(own, join(checkpoint, TOKENIZER_FILE));
  const { tokenizers, data, stages } = document.plan;
  const stage = stages.find((s) => s.name === stageOf(checkpoint));
  const named = typeof stage?.hyper.tokenizer === 'string' ? stage.hyper.tokenizer : undefined;
  const names = Object.keys(tokenizers);
  const name = named ?? (names.length === 1 ? names[0] : undefined);
  const block = name === undefined ? undefined : tokenizers[name];
  if (!block) {
    throw new RuntimeError(
      names.length === 0 ? 'the checkpoint\'s spec declares no tokenizer, so text cannot be turned into ids' : `cannot tell which of the spec's tokenizers (${names.join(', ')}) this checkpoint uses`,
      HINT,
    );
  }
  return openTokenizer(block, data, confinedSpecDir(document, cwd, filesOf(block, data)));
}
