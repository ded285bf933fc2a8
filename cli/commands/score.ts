/**
 * `moe score SPEC REWARD (--input FILE.jsonl | --completion TEXT [--sample JSON]) [--json]`: scores
 * completions with a spec's reward, offline, exactly as GRPO and rejection sampling would. Each input
 * row is a JSON object holding `completion` (a string), optionally `tokens` (the completion's length
 * in tokens, for the `length` rule) and the sample's fields (`tests`, `answer`, …). `--json` prints
 * one object per row, in order: `{ line?, total, scores: {rule: score}, problems: [{rule, reason}] }`;
 * otherwise a table. Rows are scored in batches, so a large file streams.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RuntimeError } from '../../runtime/errors.js';
import { createRewardScorer, type RewardItem, type RewardScores } from '../../runtime/reward/index.js';
import { EXIT, UsageError, existingPath, type CliIo } from '../io.js';
import { specDocument } from './spec-document.js';

export interface ScoreCliOptions {
  readonly input?: string;
  readonly completion?: string;
  readonly sample?: string;
  readonly json?: boolean;
}

/** One row to score, with where it came from (for messages and `--json`'s `line`). */
interface Row {
  readonly line?: number;
  readonly item: RewardItem;
}

/** Rows per `score` call: big enough to keep the sandbox pool busy, small enough to stream. */
const BATCH = 64;

/** A row's item: `completion` and `tokens` are the row's own, every other field is the sample's. */
function itemOf(value: unknown, where: string): RewardItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RuntimeError(`${where}: a row should be a JSON object`, 'each line holds {"completion": "...", …the sample\'s fields}');
  const { completion, tokens, ...sample } = value as Record<string, unknown>;
  if (typeof completion !== 'string') throw new RuntimeError(`${where}: the row has no string \`completion\``, 'each line holds {"completion": "...", …the sample\'s fields}');
  if (tokens !== undefined && !(typeof tokens === 'number' && Number.isInteger(tokens) && tokens >= 0)) {
    throw new RuntimeError(`${where}: \`tokens\` should be a whole number ≥ 0, found ${JSON.stringify(tokens)}`, 'it is the completion\'s length in tokens, read by the `length` rule');
  }
  // without `tokens`, a `length` rule logs that the count is missing rather than guessing one
  return { completion, sample, tokens: tokens ?? Number.NaN };
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new RuntimeError(`${where}: not JSON (${(e as Error).message})`, 'the input is JSON Lines: one JSON object per line');
  }
}

function rowsOf(options: ScoreCliOptions, io: CliIo): Row[] {
  if ((options.input === undefined) === (options.completion === undefined)) throw new UsageError('give exactly one of --input FILE.jsonl and --completion TEXT');
  if (options.completion !== undefined) {
    const sample = options.sample === undefined ? {} : parseJson(options.sample, '--sample');
    if (typeof sample !== 'object' || sample === null || Array.isArray(sample)) throw new UsageError('--sample takes a JSON object of the sample\'s fields');
    return [{ item: itemOf({ ...sample, completion: options.completion }, '--completion') }];
  }
  if (options.sample !== undefined) throw new UsageError('--sample goes with --completion; with --input, each row holds its sample\'s fields');
  const path = existingPath(io, options.input!, 'file');
  const rows: Row[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const where = `${options.input}:${i + 1}`;
      rows.push({ line: i + 1, item: itemOf(parseJson(text, where), where) });
    });
  if (rows.length === 0) throw new RuntimeError(`${options.input}: no rows`, 'each line holds {"completion": "...", …the sample\'s fields}');
  return rows;
}

interface RowScore {
  readonly line?: number;
  readonly total: number;
  readonly scores: Record<string, number>;
  readonly problems: { rule: string; reason: string }[];
}

function rowScores(rows: readonly Row[], result: RewardScores, rules: readonly string[]): RowScore[] {
  return rows.map((row, i) => ({
    ...(row.line === undefined ? {} : { line: row.line }),
    total: result.total[i]!,
    scores: Object.fromEntries(rules.map((r) => [r, result.components[r]![i]!])),
    problems: result.problems.filter((p) => p.index === i).map(({ rule, reason }) => ({ rule, reason })),
  }));
}

const fixed = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(3));

/** The readable form: a header, one line per row, each problem indented under its row. */
function renderRows(scored: readonly RowScore[], rules: readonly string[], header: boolean): string {
  const cells = (r: RowScore): string[] => [r.line === undefined ? '-' : String(r.line), fixed(r.total), ...rules.map((rule) => fixed(r.scores[rule]!))];
  const widths = ['line', 'total', ...rules].map((h) => Math.max(h.length, 7));
  const pad = (row: string[]): string => row.map((c, i) => c.padStart(widths[i]!)).join('  ');
  const out = header ? [pad(['line', 'total', ...rules])] : [];
  for (const r of scored) {
    out.push(pad(cells(r)));
    for (const p of r.problems) out.push(`    ${p.rule}: ${p.reason}`);
  }
  return `${out.join('\n')}\n`;
}

export async function runScore(spec: string, reward: string, options: ScoreCliOptions, io: CliIo): Promise<number> {
  const rows = rowsOf(options, io);
  const input = specDocument(spec, undefined, io);
  if (typeof input === 'number') return input;
  const block = Object.hasOwn(input.document.plan.rewards, reward) ? input.document.plan.rewards[reward] : undefined;
  if (block === undefined) {
    const names = Object.keys(input.document.plan.rewards);
    throw new UsageError(`${spec} has no reward \`${reward}\`${names.length > 0 ? `; its rewards: ${names.join(', ')}` : ' (it declares no reward block)'}`);
  }
  const scorer = await createRewardScorer(block, { specDir: dirname(input.path) });
  try {
    for (let start = 0; start < rows.length; start += BATCH) {
      const batch = rows.slice(start, start + BATCH);
      const scored = rowScores(batch, await scorer.score(batch.map((r) => r.item)), scorer.rules);
      if (options.json === true) io.stdout(scored.map((r) => `${JSON.stringify(r)}\n`).join(''));
      else io.stdout(renderRows(scored, scorer.rules, start === 0));
    }
  } finally {
    await scorer.close();
  }
  return EXIT.ok;
}
