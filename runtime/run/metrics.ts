/**
 * `metrics.jsonl`: one JSON object per line, appended as training goes (a crash loses at most the
 * line being written). On resume, lines after the resumed step are dropped so the file reads as one
 * uninterrupted run. Every record also goes to the TensorBoard event file beside it (tensorboard.ts),
 * which a truncation rewrites to match.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { claimEntry } from './ownership.js';
import type { MetricsRecord } from './metrics-record.js';
import { appendEvent, rewriteEvents } from './tensorboard.js';

export const METRICS_FILE = 'metrics.jsonl';

export type { MetricsRecord } from './metrics-record.js';

/** Appends to the metrics of a run folder we own (a `metrics.jsonl` we did not write is refused). */
export function appendMetrics(runDir: string, record: MetricsRecord): void {
  claimEntry(runDir, METRICS_FILE);
  appendFileSync(join(runDir, METRICS_FILE), `${JSON.stringify(record)}\n`);
  appendEvent(runDir, record);
}

export function readMetrics(runDir: string): MetricsRecord[] {
  const path = join(runDir, METRICS_FILE);
  if (!existsSync(path)) return [];
  const records: MetricsRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // a line cut off by a crash: everything before it is intact
      break;
    }
  }
  return records;
}

/** Keeps the records up to and including `step` (the resume point). */
export function truncateMetrics(runDir: string, step: number): void {
  claimEntry(runDir, METRICS_FILE);
  const kept = readMetrics(runDir).filter((r) => r.step <= step);
  writeFileAtomic(join(runDir, METRICS_FILE), kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
  rewriteEvents(runDir, kept);
}
