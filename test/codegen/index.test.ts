/** The emitter table of `moe compile --emit`, the graph emitter, and the cost of emitting everything. */
import { describe, expect, it } from 'vitest';
import { EMITTERS, EMITTER_NAMES, emitAll, isEmitterName } from '../../compiler/codegen/index.js';
import type { GraphDocument } from '../../ir/types.js';
import { example } from './helpers.js';

describe('EMITTERS', () => {
  it('has the six formats of moe compile --emit', () => {
    expect(Object.keys(EMITTERS).sort()).toEqual([...EMITTER_NAMES].sort());
    expect(EMITTER_NAMES).toEqual(['graph', 'ts', 'dot', 'svg', 'hf-config', 'megatron']);
    expect(isEmitterName('svg')).toBe(true);
    expect(isEmitterName('png')).toBe(false);
  });

  it('names files after the spec, the models and the stages', async () => {
    const results = await emitAll(example('deepseek-v3'), EMITTER_NAMES);
    expect(results.map((r) => [r.format, 'files' in r.result ? r.result.files.map((f) => f.name) : r.result.error])).toEqual([
      ['graph', ['deepseek-v3.graph.json']],
      ['ts', ['deepseek-v3.graph.ts']],
      ['dot', ['DeepSeekV3.dot']],
      ['svg', ['DeepSeekV3.svg']],
      ['hf-config', ['DeepSeekV3.config.json']],
      ['megatron', ['base.megatron.sh']],
    ]);
  });

  it('takes NAME from the caller when given', async () => {
    const result = await EMITTERS.graph(example('r1-tiny'), 'tiny');
    expect('files' in result && result.files[0]!.name).toBe('tiny.graph.json');
  });
});

describe('graph', () => {
  it('writes the document as JSON that reads back equal', async () => {
    const doc = example('r1-tiny');
    const result = await EMITTERS.graph(doc);
    if ('error' in result) throw new Error(result.error);
    const text = result.files[0]!.text;
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text)).toEqual(doc);
  });

  it('refuses a document that does not match the schema', async () => {
    const broken = { ...example('r1-tiny'), ir_version: 99 } as unknown as GraphDocument;
    const result = await EMITTERS.graph(broken);
    expect('error' in result && result.error).toMatch(/^the graph does not match its JSON Schema:\n\/ir_version/);
  });
});

describe('emitAll', () => {
  it('turns an emitter that throws into an error result', async () => {
    const doc = example('r1-tiny');
    const broken: GraphDocument = { ...doc, models: [{ ...doc.models[0]!, nodes: [] }] };
    const [dot] = await emitAll(broken, ['dot']);
    expect(dot!.result).toEqual({ error: 'cannot draw the model: layer 0 has no attention node' });
  });

  it('emits every format of the 671B model quickly', async () => {
    const doc = example('deepseek-v3');
    await emitAll(doc, EMITTER_NAMES); // load ts-morph and the Graphviz WebAssembly once
    const started = performance.now();
    const results = await emitAll(doc, EMITTER_NAMES);
    const elapsed = performance.now() - started;
    expect(results.every((r) => 'files' in r.result)).toBe(true);
    // ~0.15 s on a laptop-class CPU; a generous bound against regressions, not a benchmark
    expect(elapsed).toBeLessThan(2000);
  });
});
