/**
 * Every stage setting is honoured or reported (issue 19): the runtime's table covers every field of
 * every stage kind of the language schema, each field it calls read is read by the file it names,
 * and each reported field prints its line when its value asks for what the runtime does not do.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageSpecs } from '../../../compiler/schema/stages.js';
import type { AttrValue, StagePlan } from '../../../ir/types.js';
import { STAGE_FIELD_USE, settingNotes, type RunsOn } from '../../../runtime/run/settings.js';

const KINDS = ['pretrain', 'sft', 'grpo', 'sample', 'generate'] as const;
const CPU: RunsOn = { backend: 'cpu', cuda: false };
const CUDA: RunsOn = { backend: 'cuda', cuda: true };

/** The schema's fields of a stage kind, `parallel` field by field. */
function schemaFields(kind: (typeof KINDS)[number]): string[] {
  return Object.entries(stageSpecs[kind].fields).flatMap(([name, spec]) =>
    name === 'parallel' && spec.type === 'block' ? Object.keys(spec.fields).map((k) => `parallel.${k}`) : [name],
  );
}

function stage(kind: StagePlan['kind'], hyper: { [k: string]: AttrValue }): StagePlan {
  return { name: 's', kind, loc: { file: 'x.moe', line: 1, col: 1 }, model: 'M', from: null, after: [], hyper };
}

/** For each reported field: settings that ask for what is not done, where, and the line expected. */
interface Case {
  readonly hyper: { [k: string]: AttrValue };
  readonly on?: RunsOn;
  readonly line: RegExp;
}
const MEGATRON = /runs on one device \(the cpu backend\); `moe compile SPEC --emit megatron` writes a Megatron-LM launch script/;
const CASES: Record<string, (kind: StagePlan['kind']) => Case> = {
  on: () => ({ hyper: { on: 'node2', parallel: { data: 2 } }, line: /parallel \{ data = 2 \} on cluster node2 is not run by moe/ }),
  'parallel.data': () => ({ hyper: { parallel: { data: 2 } }, line: MEGATRON }),
  'parallel.tensor': () => ({ hyper: { parallel: { tensor: 2 } }, line: /parallel \{ tensor = 2 \}/ }),
  'parallel.pipeline': () => ({ hyper: { parallel: { pipeline: 2 } }, line: /parallel \{ pipeline = 2 \}/ }),
  'parallel.expert': () => ({ hyper: { parallel: { expert: 4 } }, line: /parallel \{ expert = 4 \}/ }),
  'parallel.first_stage_layers': () => ({ hyper: { parallel: { pipeline: 2, first_stage_layers: 1 } }, line: /parallel \{ pipeline = 2 \}/ }),
  'parallel.last_stage_layers': () => ({ hyper: { parallel: { pipeline: 2, last_stage_layers: 1 } }, line: /parallel \{ pipeline = 2 \}/ }),
  'parallel.zero': () => ({ hyper: { parallel: { zero: 1 } }, line: /^zero = 1 is not available on the cpu backend/ }),
  'parallel.recompute': (kind) =>
    kind === 'sample' || kind === 'generate'
      ? { hyper: { parallel: { recompute: 'full' } }, line: /^recompute = full is not used by/ }
      : { hyper: { parallel: { recompute: 'selective' } }, line: /^recompute = selective is not available on the cpu backend: attention keeps its score tensors/ },
  'parallel.micro_batches': () => ({ hyper: { parallel: { micro_batches: 2 } }, line: /^micro_batches = 2 is not used by/ }),
  precision: (kind) =>
    kind === 'pretrain' || kind === 'sft'
      ? { hyper: { precision: 'bf16' }, line: /^precision = bf16 is not available on the cpu backend: training runs in fp32/ }
      : { hyper: { precision: 'bf16' }, line: new RegExp(`^precision = bf16 is not available for ${kind} stages on the cpu backend`) },
  seq_len: () => ({ hyper: { seq_len: 64 }, line: /^seq_len is not used by grpo stage s/ }),
  epochs: () => ({ hyper: { epochs: 2 }, line: /^epochs is not used by grpo stage s/ }),
  eval: () => ({ hyper: { eval: { every: 10, batches: 8 } }, line: /^eval is not used by grpo stage s/ }),
  bias_rate: () => ({ hyper: { bias_rate: 0.001 }, line: /^bias_rate is not used by grpo stage s/ }),
  mtp_weight: () => ({ hyper: { mtp_weight: 0.1 }, line: /^mtp_weight is not used by grpo stage s/ }),
};

describe('every stage setting is read or reported', () => {
  it.each(KINDS)('the table covers every schema field of a %s stage, and nothing else', (kind) => {
    expect(Object.keys(STAGE_FIELD_USE[kind]).sort()).toEqual(schemaFields(kind).sort());
  });

  it.each(KINDS)('each field of a %s stage called read is named in the file said to read it', (kind) => {
    for (const [field, use] of Object.entries(STAGE_FIELD_USE[kind])) {
      if (!('read' in use)) continue;
      const path = join(process.cwd(), use.read);
      expect(existsSync(path), `${kind}.${field}: ${use.read}`).toBe(true);
      expect(readFileSync(path, 'utf8'), `${kind}.${field} in ${use.read}`).toContain(use.key ?? field);
    }
  });

  it.each(KINDS)('each reported field of a %s stage prints its line when asked for what is not done', (kind) => {
    for (const [field, use] of Object.entries(STAGE_FIELD_USE[kind])) {
      if (!use.note) continue;
      const make = CASES[field];
      expect(make, `a case for ${kind}.${field}`).toBeDefined();
      const c = make!(kind);
      const lines = settingNotes(stage(kind, c.hyper), c.on ?? CPU);
      expect(lines.some((l) => c.line.test(l)), `${kind}.${field}: ${JSON.stringify(lines)}`).toBe(true);
    }
  });

  it('prints nothing for settings that are honoured, and one line for a whole layout', () => {
    expect(settingNotes(stage('pretrain', { precision: 'fp32', parallel: { micro_batches: 4, zero: 0 } }), CPU).filter((l) => !l.startsWith('recompute'))).toEqual([]);
    expect(settingNotes(stage('pretrain', { precision: 'bf16' }), CUDA)).toEqual([]);
    // cuda honours both kinds of recompute: attention re-takes its scores, `full` re-runs each layer's forward
    for (const recompute of ['selective', 'full']) expect(settingNotes(stage('pretrain', { precision: 'bf16', parallel: { recompute } }), CUDA)).toEqual([]);
    // a grpo policy update accumulates gradients over the parts of its rollout batch (rl/update.ts)
    expect(settingNotes(stage('grpo', { parallel: { micro_batches: 4 } }), CPU).filter((l) => l.includes('micro_batches'))).toEqual([]);
    expect(STAGE_FIELD_USE.grpo['parallel.micro_batches']).toEqual({ read: 'runtime/run/stage.ts', key: 'micro_batches' });
    // full recomputation runs on tfjs for every stage that trains (model/recompute.ts)
    for (const kind of ['pretrain', 'sft', 'grpo'] as const) expect(settingNotes(stage(kind, { parallel: { recompute: 'full' } }), CPU)).toEqual([]);
    // no parallel block: the default says nothing
    expect(settingNotes(stage('pretrain', {}), CPU)).toEqual([]);
    const layout = settingNotes(stage('pretrain', { on: 'c', parallel: { data: 2, tensor: 2, pipeline: 2, first_stage_layers: 1 } }), CPU);
    expect(layout.filter((l) => l.startsWith('parallel'))).toEqual([
      'parallel { data = 2, tensor = 2, pipeline = 2 } on cluster c is not run by moe: stage s runs on one device (the cpu backend); `moe compile SPEC --emit megatron` writes a Megatron-LM launch script for this layout',
    ]);
  });
});
