/**
 * `metrics.jsonl`: one JSON object per line, appended as training goes (a crash loses at most the
 * line being written). On resume, lines after the resumed step are dropped so the file reads as one
 * uninterrupted run.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const METRICS_FILE = 'metrics.jsonl';

export type MetricsRecord = { readonly step: number } & Readonly<Record<string, unknown>>;

export function appendMetrics(runDir: string, record: MetricsRecord): void {
  appendFileSync(join(runDir, METRICS_FILE), `${JSON.stringify(record)}\n`);
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
  const kept = readMetrics(runDir).filter((r) => r.step <= step);
  writeFileSync(join(runDir, METRICS_FILE), kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
