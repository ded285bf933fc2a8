/** A stage's parallel plan and training setup, in the plain shapes the memory estimate reads. */
import type { ClusterShape, ParallelPlan, Precision, TrainingSetup } from '../stats/shape.js';
import type { CheckContext, CheckedBlock } from './context.js';
import type { Config } from './values.js';

export function parallelPlan(parallel: Config): ParallelPlan {
  const zero = parallel.num('zero') ?? 0;
  return {
    data: parallel.num('data') ?? 1,
    tensor: parallel.num('tensor') ?? 1,
    pipeline: parallel.num('pipeline') ?? 1,
    expert: parallel.num('expert') ?? 1,
    microBatches: parallel.num('micro_batches') ?? 1,
    zero: zero === 1 || zero === 2 || zero === 3 ? zero : 0,
    recompute: parallel.str('recompute') === 'full' ? 'full' : 'selective',
  };
}

/** Global batch in sequences (a token batch is divided by seq_len). */
export function batchSequences(stage: Config): number | undefined {
  const batch = stage.quantity('batch');
  if (!batch) return undefined;
  if (batch.dim === 'tokens') {
    const seqLen = stage.num('seq_len');
    return seqLen ? batch.value / seqLen : undefined;
  }
  return batch.value;
}

export function trainingSetup(stage: Config): TrainingSetup | undefined {
  const seqLen = stage.num('seq_len');
  const batch = batchSequences(stage);
  if (seqLen === undefined || batch === undefined) return undefined;
  return { seqLen, batch, precision: (stage.str('precision') ?? 'fp32') as Precision };
}

export function clusterShape(ctx: CheckContext, stage: CheckedBlock): { name: string; shape: ClusterShape } | undefined {
  const on = stage.config.ref('on');
  const cluster = on?.kind === 'ref' ? ctx.blocks.get(on.name) : undefined;
  if (!cluster || !on || on.kind !== 'ref') return undefined;
  const devices = cluster.config.num('devices');
  const memory = cluster.config.num('memory');
  if (devices === undefined || memory === undefined) return undefined;
  return { name: on.name, shape: { devices, memory, peak: cluster.config.num('peak') ?? 0 } };
}

/** Training length in steps when it is known at compile time (epochs need the data size). */
export function trainingSteps(stage: Config): number | undefined {
  const steps = stage.quantity('steps');
  if (!steps) return undefined;
  if (steps.dim === 'steps') return steps.value;
  if (steps.dim === 'tokens') {
    const seqLen = stage.num('seq_len');
    const batch = batchSequences(stage);
    return seqLen && batch ? Math.ceil(steps.value / (seqLen * batch)) : undefined;
  }
  return undefined;
}
