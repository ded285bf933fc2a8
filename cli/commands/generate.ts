/**
 * `moe generate CHECKPOINT (--prompt TEXT | --ids 3,17,42 | --prompts FILE.jsonl) [sampling options]`:
 * one prompt streams its completion to stdout as it is generated (`--json`: one object
 * {"ids", "text", "finish"} at the end); a JSONL file of prompts runs in batches and writes one JSON
 * line per prompt (its fields plus completion, ids, finish) to stdout or `--out`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MAX_TOKENS } from '../../compiler/schema/limits.js';
import type { Tokenizer } from '../../runtime/data/tokenizer.js';
import { checkpointTokenizer } from '../../runtime/infer/checkpoint-tokenizer.js';
import { generate, type Completion, type GenerateOptions } from '../../runtime/infer/generate.js';
import type { SamplingOptions } from '../../runtime/infer/sampling.js';
import { promptIds, textOptions } from '../../runtime/infer/text.js';
import { RuntimeError } from '../../runtime/errors.js';
import { loadGraph } from '../../runtime/load.js';
import { openCheckpoint } from '../../runtime/session.js';
import { cudaDecodeEngine } from '../../runtime/cuda/decoder.js';
import { cudaFor } from '../../runtime/cuda/runtime.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';
import { writeAtomic } from '../write-atomic.js';
import { parseBackend, parseIds } from './logits.js';

export interface GenerateCliOptions {
  readonly prompt?: string;
  readonly ids?: string;
  readonly prompts?: string;
  readonly field?: string;
  /** a JSONL file (a single prompt's result too, as with --json) */
  readonly out?: string;
  readonly maxNewTokens?: string;
  readonly temperature?: string;
  readonly topK?: string;
  readonly topP?: string;
  readonly minP?: string;
  readonly repetitionPenalty?: string;
  readonly seed?: string;
  readonly stop?: string[];
  readonly batch?: string;
  readonly cache?: string;
  readonly tokenizer?: string;
  readonly json?: boolean;
  readonly backend?: string;
}

function number(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${flag} takes a number, found \`${text}\``);
  return value;
}

/**
 * `--max-new-tokens`: a whole number up to the spec field's bound (MAX_TOKENS, as a generate or
 * sample stage's `max_new_tokens`), refused before the checkpoint is loaded.
 */
function maxNewTokensOf(text: string | undefined): number {
  if (text === undefined) return 64;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 1 || value > MAX_TOKENS) {
    throw new UsageError(`--max-new-tokens takes a whole number from 1 to ${MAX_TOKENS} (the bound of a stage's max_new_tokens), found \`${text}\``);
  }
  return value;
}

function samplingOf(options: GenerateCliOptions): SamplingOptions {
  return {
    temperature: number(options.temperature, '--temperature', 0),
    topK: number(options.topK, '--top-k', 0),
    topP: number(options.topP, '--top-p', 1),
    minP: number(options.minP, '--min-p', 0),
    repetitionPenalty: number(options.repetitionPenalty, '--repetition-penalty', 1),
  };
}

type PromptRecord = Record<string, unknown>;

/**
 * JSONL prompt records; each needs the text field (or an `ids` array). A file that is not such
 * records is a data error (exit 1), naming file:line.
 */
function readPrompts(path: string, shown: string, field: string): PromptRecord[] {
  const records: PromptRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new RuntimeError(`${shown}:${i + 1}: not JSON: ${(error as Error).message}`, 'each line holds one JSON object, e.g. {"prompt": "What is 12+30?"}');
      }
      const record = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as PromptRecord) : undefined;
      if (!record || (typeof record[field] !== 'string' && !Array.isArray(record.ids))) {
        throw new RuntimeError(`${shown}:${i + 1}: expected an object with a string \`${field}\` field (or an \`ids\` array)`, '--field names the prompt field');
      }
      records.push(record);
    });
  if (records.length === 0) throw new RuntimeError(`${shown} holds no prompts`);
  return records;
}

/**
 * `-o`: the JSONL file of completions. A folder there is refused before anything runs (one file
 * is written, and a folder is never replaced by it).
 */
function outputFile(io: CliIo, given: string): string {
  const path = resolve(io.cwd, given);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new UsageError(`-o ${given} is a folder; moe generate writes one JSONL file: name it, e.g. -o ${join(given, 'generations.jsonl')}`);
  }
  return path;
}

function recordIds(record: PromptRecord, field: string, tokenizer: () => Tokenizer): number[] {
  return Array.isArray(record.ids) ? record.ids.map(Number) : promptIds(record[field] as string, tokenizer());
}

export async function runGenerate(checkpoint: string, options: GenerateCliOptions, io: CliIo): Promise<number> {
  const given = [options.prompt, options.ids, options.prompts].filter((o) => o !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --prompt TEXT, --ids 3,17,42 or --prompts FILE.jsonl');
  const field = options.field ?? 'prompt';
  const records = options.prompts !== undefined ? readPrompts(existingPath(io, options.prompts, 'file'), options.prompts, field) : [options.ids !== undefined ? { ids: parseIds(options.ids) } : { [field]: options.prompt! }];
  const maxNewTokens = maxNewTokensOf(options.maxNewTokens);
  const cache = options.cache ?? 'latent';
  if (cache !== 'latent' && cache !== 'naive') throw new UsageError(`--cache takes latent or naive, found \`${cache}\``);
  const out = options.out === undefined ? undefined : outputFile(io, options.out);
  const dir = existingPath(io, checkpoint, 'folder');
  // the cuda decoder under --backend cuda, and under auto when cuda opens and runs the checkpoint's
  // models (a missing graph is openCheckpoint's to report); tfjs then only holds the weights (cpu)
  const graph = join(dir, 'graph.json');
  const opened = await cudaFor(options.backend, undefined, existsSync(graph) ? loadGraph(graph).models : []);
  const backend = opened ? 'cpu' : parseBackend(options.backend);
  if (options.tokenizer !== undefined) existingPath(io, options.tokenizer, 'file');
  const session = await openCheckpoint(dir, backend);
  let cuda: Awaited<ReturnType<typeof cudaDecodeEngine>> | undefined;
  let known: Tokenizer | undefined;
  const tokenizer = (): Tokenizer => (known ??= checkpointTokenizer(dir, session.document, io.cwd, options.tokenizer && resolve(io.cwd, options.tokenizer)));
  try {
    const prompts = records.map((r) => recordIds(r, field, tokenizer));
    const needsText = records.some((r) => !Array.isArray(r.ids)) || (options.stop?.length ?? 0) > 0;
    const text = needsText ? tokenizer() : undefined;
    const single = records.length === 1 && options.prompts === undefined;
    // with -o the completion goes to the file, as JSON
    const stream = single && !options.json && out === undefined ? new Streamer(io, text) : undefined;
    const generateOptions: GenerateOptions = {
      maxNewTokens,
      sampling: samplingOf(options),
      seed: number(options.seed, '--seed', 0),
      ...(text ? textOptions(text, options.stop) : { eos: [] }),
      batchSize: number(options.batch, '--batch', 32),
      mlaCache: cache,
      onToken: stream && ((_index, id) => stream.push(id)),
    };
    let where = `backend ${session.backend.name} (${session.backend.reason})`;
    if (opened) {
      cuda = await cudaDecodeEngine(opened.runtime, session.model, session.store);
      where = `backend cuda (${opened.reason})`;
    }
    io.stderr(`${where}; model ${session.model.name}; ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}\n`);
    const completions = await generate(session.model, cuda ?? session.store, prompts, generateOptions);
    if (stream) {
      stream.end();
      io.stderr(`[${completions[0]!.ids.length} tokens, finish: ${completions[0]!.finish}]\n`);
      return EXIT.ok;
    }
    const lines = completions.map((c, i) => JSON.stringify(single ? resultOf(c, text) : { ...records[i], completion: text?.decode(c.ids) ?? null, ids: c.ids, finish: c.finish }));
    if (out !== undefined) {
      writeAtomic(out, `${lines.join('\n')}\n`);
      io.stderr(`wrote ${lines.length} completions to ${options.out}\n`);
    } else io.stdout(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    cuda?.dispose();
    session.store.dispose();
  }
}

function resultOf(completion: Completion, text: Tokenizer | undefined): { ids: number[]; text: string | null; finish: string } {
  return { ids: completion.ids, text: text?.decode(completion.ids) ?? null, finish: completion.finish };
}

/**
 * Prints a single completion as it grows: the decoded text's new suffix, held back while it ends
 * in an incomplete UTF-8 sequence (U+FFFD) so multi-byte characters come out whole. Without a
 * tokenizer, the ids.
 */
class Streamer {
  private readonly ids: number[] = [];
  private printed = '';

  constructor(
    private readonly io: CliIo,
    private readonly text: Tokenizer | undefined,
  ) {}

  push(id: number): void {
    this.ids.push(id);
    if (!this.text) this.io.stdout(`${this.ids.length > 1 ? ',' : ''}${id}`);
    else this.flush(false);
  }

  /** Prints what is still held back (a completion may end inside a character) and a newline. */
  end(): void {
    if (this.text) this.flush(true);
    this.io.stdout('\n');
  }

  private flush(final: boolean): void {
    const decoded = this.text!.decode(this.ids);
    if (!decoded.startsWith(this.printed) || (!final && decoded.endsWith('\uFFFD'))) return;
    this.io.stdout(decoded.slice(this.printed.length));
    this.printed = decoded;
  }
}
