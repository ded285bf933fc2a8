/**
 * `OUT/summary.json`, written by `moe run` after every run (also one that failed or was
 * interrupted): `{"stages": [...]}`, one entry per stage of the target in run order with `name`,
 * `kind`, `status`, `seconds` and `checkpoint` (relative to OUT, or null); training stages add
 * `steps` (GRPO also `reward`: its mean over the first and the last fifth of the steps run), sample
 * stages `kept`, eval stages `from` (the stage or path evaluated), `accuracy` and `rules` (each
 * rule's mean). A number the run does not know (a stage that failed or did not run,
 * a done.json from before these were recorded) is null. Written atomically; the caller has claimed
 * the file in OUT's manifest (run/ownership.ts).
 */
import { join, relative } from 'node:path';
import type { Plan, StagePlan } from '../../ir/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { RewardFifths, StageFigures } from './stage-runner.js';

export const SUMMARY_FILE = 'summary.json';

/** What the summary needs of a stage's report (pipeline.ts's StageReport). */
export interface SummaryStage {
  readonly name: string;
  readonly kind: StagePlan['kind'];
  readonly status: string;
  readonly seconds: number;
  readonly checkpoint?: string;
  readonly figures?: StageFigures;
}

type Entry = Readonly<Record<string, string | number | null | Readonly<Record<string, number>> | RewardFifths>>;

function evalFrom(plan: StagePlan | undefined): string | null {
  const from = plan?.from;
  if (!from) return null;
  return 'stage' in from ? from.stage : from.path;
}

export function summaryEntry(report: SummaryStage, plan: StagePlan | undefined, outDir: string): Entry {
  const figures = report.figures ?? {};
  const base = {
    name: report.name,
    kind: report.kind,
    status: report.status,
    seconds: report.seconds,
    checkpoint: report.checkpoint === undefined ? null : relative(outDir, report.checkpoint),
  };
  switch (report.kind) {
    case 'pretrain':
    case 'sft':
      return { ...base, steps: figures.steps ?? null };
    case 'grpo':
      return { ...base, steps: figures.steps ?? null, reward: figures.reward ?? null };
    case 'sample':
      return { ...base, kept: figures.kept ?? null };
    case 'eval':
      return { ...base, from: evalFrom(plan), accuracy: figures.accuracy ?? null, rules: figures.rules ?? null };
    case 'generate':
      return base;
  }
}

export function writeRunSummary(outDir: string, plan: Plan, reports: readonly SummaryStage[]): void {
  const plans = new Map(plan.stages.map((s) => [s.name, s]));
  const stages = reports.map((s) => summaryEntry(s, plans.get(s.name), outDir));
  writeFileAtomic(join(outDir, SUMMARY_FILE), `${JSON.stringify({ stages }, null, 2)}\n`);
}
