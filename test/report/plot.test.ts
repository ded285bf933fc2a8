/** `plotRun`: a well-formed SVG with loss, learning rate and one expert-load heatmap per MoE layer. */
import { describe, expect, it } from 'vitest';
import type { MetricsRecord } from '../../runtime/run/metrics.js';
import { MAX_HEATMAP_COLUMNS, escapeXml, formatNumber, layerLabel, niceTicks, plotRun, plotRuns } from '../../report/plot.js';

/** Throws unless `xml` is one well-formed element: balanced tags, quoted attributes, escaped text. */
function checkWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  const text = /^(?:[^&<>]|&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)*$/;
  let roots = 0;
  for (const m of body.matchAll(token)) {
    const [, close, name, attrs, selfClose, chars, stray] = m;
    if (stray) throw new Error(`stray < at ${m.index}: ${body.slice(m.index, m.index + 40)}`);
    if (chars !== undefined) {
      if (!text.test(chars)) throw new Error(`unescaped text: ${chars.slice(0, 60)}`);
      if (stack.length === 0 && chars.trim()) throw new Error(`text outside the root: ${chars.slice(0, 60)}`);
      continue;
    }
    for (const [, value] of (attrs ?? '').matchAll(/="([^"]*)"/g)) {
      if (!text.test(value!)) throw new Error(`unescaped attribute value: ${value!.slice(0, 60)}`);
    }
    if (close) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

/** The well-formedness check itself catches what it should. */
describe('checkWellFormed', () => {
  it('accepts good XML and refuses broken XML', () => {
    expect(() => checkWellFormed('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>')).not.toThrow();
    expect(() => checkWellFormed('<svg><g></svg>')).toThrow();
    expect(() => checkWellFormed('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => checkWellFormed('<svg><text>a < b</text></svg>')).toThrow();
    expect(() => checkWellFormed('<svg a="<"></svg>')).toThrow();
    expect(() => checkWellFormed('<svg></svg><svg></svg>')).toThrow();
  });
});

const LAYERS = ['h.2.ffn_out.load', 'h.3.ffn_out.load', 'h.4.ffn_out.load', 'mtp.1.h.ffn_out.load'];

function run(steps: number, experts = 8, extra: (step: number) => Partial<Record<string, unknown>> = () => ({})): MetricsRecord[] {
  return Array.from({ length: steps }, (_, i) => {
    const step = i + 1;
    const load = Object.fromEntries(LAYERS.map((name, l) => [name, Array.from({ length: experts }, (_, e) => 10 + ((e * 7 + l * 3 + step) % 11))]));
    const balance = Object.fromEntries(LAYERS.map((name) => [name, 2]));
    return { step, loss: 7 - step * 0.1, lr: 1e-3 * step, grad_norm: 1, tokens_per_s: 500, load, balance, ...extra(step) };
  });
}

const heatmaps = (svg: string): string[] => [...svg.matchAll(/<g class="heatmap"[^>]*>/g)].map((m) => m[0]);
const rowsOf = (svg: string, layer: string): number => {
  const start = svg.indexOf(`data-layer="${layer}"`);
  const end = svg.indexOf('<g class="heatmap"', start + 1);
  return [...svg.slice(start, end === -1 ? undefined : end).matchAll(/class="expert-row"/g)].length;
};
const polylinePoints = (svg: string, cls: string): string[] => {
  const m = new RegExp(`<polyline class="${cls}"[^>]* points="([^"]*)"`).exec(svg);
  return m ? m[1]!.trim().split(/\s+/) : [];
};

describe('plotRun', () => {
  it('draws loss, learning rate and one heatmap per MoE layer with a row per expert', () => {
    const svg = plotRun(run(12), { title: 'tiny' });
    checkWellFormed(svg);
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(heatmaps(svg)).toHaveLength(4);
    for (const name of LAYERS) expect(rowsOf(svg, name)).toBe(8);
    expect(svg).toMatch(/>layer 1: expert load</);
    expect(svg).toMatch(/>layer 3: expert load</);
    expect(svg).toMatch(/>MTP 1: expert load</);
    expect(svg).toContain('mean balance (max/mean) 2.00');
    expect(svg).toContain('≥ 2× uniform');
    expect(svg).toContain('0 (white)');
    expect(polylinePoints(svg, 'loss')).toHaveLength(12);
    expect(polylinePoints(svg, 'lr')).toHaveLength(12);
    // axes: titles and step ticks
    expect(svg).toContain('>step</text>');
    expect(svg).toContain('>loss</text>');
    expect(svg).toContain('>learning rate</text>');
    expect(svg).toMatch(/>10<\/text>/);
  });

  it('orders layers by depth, MTP after the main layers', () => {
    const svg = plotRun(run(3));
    const order = [...svg.matchAll(/data-layer="([^"]*)"/g)].map((m) => m[1]);
    expect(order).toEqual(LAYERS);
  });

  it('places layers by the records\' `layer` map, whatever the value names are', () => {
    // names that would mislead the old name decoding: the map (and main_layers for MTP) decides
    const layer = { 'r.a.load': 2, 'h.9.ffn_out.load': 0, 'z.load': 3, 'b.load': 1 };
    const records: MetricsRecord[] = [1, 2].map((step) => ({
      step,
      loss: 1,
      load: Object.fromEntries(Object.keys(layer).map((name) => [name, [3, 1]])),
      layer,
      main_layers: 3,
    }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    expect([...svg.matchAll(/data-layer="([^"]*)"/g)].map((m) => m[1])).toEqual(['h.9.ffn_out.load', 'b.load', 'r.a.load', 'z.load']);
    expect([...svg.matchAll(/>([^<>]*): expert load</g)].map((m) => m[1])).toEqual(['layer 0', 'layer 1', 'layer 2', 'MTP 1']);
  });

  it('colours by the step\'s share: an expert with every selection is dark, one with none is white', () => {
    const records: MetricsRecord[] = [{ step: 1, loss: 1, load: { 'h.2.ffn_out.load': [4, 0] } }];
    const svg = plotRun(records);
    expect(svg).toContain('expert 0: 100.0% of selections (2.00× uniform)');
    expect(svg).toContain('expert 1: 0.0% of selections (0.00× uniform)');
    expect(svg).toContain('fill="#08306b"><title>step 1, expert 0');
    expect(svg).toContain('fill="#ffffff"><title>step 1, expert 1');
    // balance computed from the load when the record has none: max / mean = 4 / 2
    expect(svg).toContain('mean balance (max/mean) 2.00');
  });

  it('puts one point per finite loss in the polyline and draws validation points', () => {
    const records = run(10, 4, (step) => ({
      loss: step === 3 ? NaN : step === 4 ? null : step === 5 ? 'x' : 2 + 1 / step,
      ...(step % 5 === 0 ? { valid_loss: 3 } : {}),
    }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    expect(polylinePoints(svg, 'loss')).toHaveLength(7);
    expect(svg).not.toContain('NaN');
    const valid = /<g class="valid-loss-points"[^>]*>(.*?)<\/g>/.exec(svg);
    expect(valid?.[1]?.match(/<circle/g)).toHaveLength(2);
    expect(svg).toContain('validation loss');
  });

  it('draws a GRPO run as its reward, each rule\'s mean and the KL instead of the loss', () => {
    const records: MetricsRecord[] = Array.from({ length: 6 }, (_, i) => ({
      step: i + 1,
      loss: 1e-3,
      reward: 0.2 + i * 0.1,
      components: { accuracy: i / 10, format: 0.5 },
      kl: i * 0.01,
      lr: 1e-4,
    }));
    const svg = plotRun(records, { title: 'reason' });
    checkWellFormed(svg);
    expect(polylinePoints(svg, 'reward')).toHaveLength(6);
    expect(polylinePoints(svg, 'kl')).toHaveLength(6);
    expect(svg.match(/<polyline class="component"/g)).toHaveLength(2);
    expect(svg).toContain('mean reward 0.2 → 0.7');
    expect(svg).toMatch(/>accuracy</);
    expect(svg).toMatch(/>format</);
    expect(svg).not.toContain('class="loss"');
    expect(svg).toContain('GRPO does not log it');
  });

  it('draws GRPO\'s completion length, entropy and clip fraction, each in its own panel', () => {
    const records: MetricsRecord[] = Array.from({ length: 5 }, (_, i) => ({ step: i + 1, reward: i / 5, kl: 0.01, lr: 1e-4, completion_length: 20 + i, entropy: 2 - i * 0.1, clip_fraction: i * 0.05 }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    for (const cls of ['completion-length', 'entropy', 'clip-fraction']) expect(polylinePoints(svg, cls)).toHaveLength(5);
    expect(svg).toContain('Mean completion length');
    expect(svg).toContain('Policy entropy of the sampled tokens');
    expect(svg).toContain('Fraction of tokens clipped by the surrogate');
  });

  it('draws the training loss\'s lm part beside validation (like for like) and the other parts apart', () => {
    const records = run(6, 4, (step) => ({ loss: 3 + 1 / step, loss_parts: { lm: 2 + 1 / step, mtp: 0.6, aux: 0.4, z: 0 }, ...(step % 3 === 0 ? { valid_loss: 2.2 } : {}) }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    expect(polylinePoints(svg, 'loss')).toHaveLength(6);
    expect(polylinePoints(svg, 'lm-loss')).toHaveLength(6);
    expect(polylinePoints(svg, 'mtp-loss')).toHaveLength(6);
    expect(polylinePoints(svg, 'aux-loss')).toHaveLength(6);
    // a part that is 0 throughout is not drawn
    expect(polylinePoints(svg, 'z-loss')).toHaveLength(0);
    expect(svg).toContain('training lm loss');
    expect(svg).toContain('validation (lm) loss');
    expect(svg).toContain('training loss (total)');
  });

  it('overlays runs: one line per run and figure, a figure only where some run logged it; one run is plotRun', () => {
    const a = run(4, 4);
    const b: MetricsRecord[] = [1, 2, 3, 4, 5, 6].map((step) => ({ step, reward: step / 10, entropy: 1, lr: 1e-4 }));
    const svg = plotRuns([{ name: 'a', records: a }, { name: 'b <rl>', records: b }]);
    checkWellFormed(svg);
    expect(polylinePoints(svg, 'loss-run-0')).toHaveLength(4);
    expect(polylinePoints(svg, 'loss-run-1')).toHaveLength(0);
    expect(polylinePoints(svg, 'reward-run-1')).toHaveLength(6);
    expect(polylinePoints(svg, 'entropy-run-1')).toHaveLength(6);
    expect(polylinePoints(svg, 'lr-run-0')).toHaveLength(4);
    expect(polylinePoints(svg, 'lr-run-1')).toHaveLength(6);
    expect(svg).not.toContain('Mean completion length');
    expect(svg).toContain('b &lt;rl&gt;');
    expect(plotRuns([{ name: 'a', records: a }], { title: 't' })).toBe(plotRun(a, { title: 't' }));
  });

  it('averages long runs into at most MAX_HEATMAP_COLUMNS buckets', () => {
    // expert 0 takes every selection on odd steps, none on even ones; steps 1–5 → 3/5 = 60%
    const records: MetricsRecord[] = Array.from({ length: 1000 }, (_, i) => ({
      step: i + 1,
      loss: 3,
      lr: 1e-3,
      load: { 'h.2.ffn_out.load': (i + 1) % 2 ? [5, 0] : [0, 5] },
    }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    const row0 = /<g class="expert-row" data-expert="0">(.*?)<\/g>/.exec(svg)![1]!;
    expect(row0.match(/<rect/g)).toHaveLength(MAX_HEATMAP_COLUMNS);
    expect(svg).toContain('steps 1–5, expert 0: 60.0% of selections (1.20× uniform)');
    expect(svg).toContain('averaged over step buckets');
    expect(polylinePoints(svg, 'loss')).toHaveLength(1000);
  });

  it('embeds a PNG for heatmaps too big for one element per cell, one pixel per cell', () => {
    const records: MetricsRecord[] = Array.from({ length: 400 }, (_, i) => ({
      step: i + 1,
      loss: 3,
      load: { 'h.5.ffn_out.load': Array.from({ length: 64 }, (_, e) => (e + i) % 64) },
    }));
    const svg = plotRun(records);
    checkWellFormed(svg);
    expect(svg).toContain('data-experts="64"');
    const data = /href="data:image\/png;base64,([^"]+)"/.exec(svg)![1]!;
    const png = Buffer.from(data, 'base64');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(200); // width: columns
    expect(png.readUInt32BE(20)).toBe(64); // height: experts
    expect(svg).toContain('layer 4: expert load');
  });

  it('escapes text: title and odd value names', () => {
    const svg = plotRun([{ step: 1, loss: 1, load: { 'a<b>&"c".load': [1, 2] } }], { title: 'run <1> & "two"' });
    checkWellFormed(svg);
    expect(svg).toContain('run &lt;1&gt; &amp; &quot;two&quot;');
    expect(svg).toContain('a&lt;b&gt;&amp;&quot;c&quot;');
    expect(escapeXml(`<'&">`)).toBe('&lt;&apos;&amp;&quot;&gt;');
  });

  it('handles a run of one step', () => {
    const svg = plotRun(run(1));
    checkWellFormed(svg);
    expect(polylinePoints(svg, 'loss')).toHaveLength(1);
    expect(svg).toContain('<g class="loss-points"');
    expect(heatmaps(svg)).toHaveLength(4);
    expect(svg).toMatch(/>step 1\s+·/);
    expect(svg).not.toContain('NaN');
    expect(svg).not.toContain('Infinity');
  });

  it('handles runs without MoE layers, without records, and with missing fields', () => {
    const dense = plotRun([{ step: 1, loss: 2, lr: 1e-3 }, { step: 2, loss: 1.5, lr: 1e-3 }]);
    checkWellFormed(dense);
    expect(heatmaps(dense)).toHaveLength(0);
    expect(dense).toContain('no MoE layers');

    const empty = plotRun([], { title: 'nothing' });
    checkWellFormed(empty);
    expect(empty).toContain('no metrics recorded yet');

    const sparse = plotRun([{ step: 1 }, { step: 2, load: 'broken', balance: null }, { step: 3, load: { 'h.2.ffn_out.load': [0, 0] } }, { step: 4, load: { 'h.2.ffn_out.load': [1, NaN, 3] } }] as unknown as MetricsRecord[]);
    checkWellFormed(sparse);
    expect(sparse).toContain('no loss recorded');
    expect(sparse).toContain('no learning rate recorded');
    expect(rowsOf(sparse, 'h.2.ffn_out.load')).toBe(3);
    expect(sparse).not.toContain('NaN');

    const unsorted = plotRun([{ step: 2, loss: 1 }, { step: 1, loss: 2 }, { step: Number.NaN, loss: 0 } as MetricsRecord]);
    checkWellFormed(unsorted);
    expect(polylinePoints(unsorted, 'loss')).toHaveLength(2);
  });
});

describe('plot helpers', () => {
  it('names layers readably', () => {
    expect(layerLabel('h.2.ffn_out.load')).toBe('layer 1');
    expect(layerLabel('h.27.ffn_out.load')).toBe('layer 26');
    expect(layerLabel('mtp.1.h.ffn_out.load')).toBe('MTP 1');
    expect(layerLabel('something.else.load')).toBe('something.else');
  });

  it('picks round ticks and short numbers', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(4.3, 7.6, 5)).toEqual([5, 6, 7]);
    expect(niceTicks(0, 0.0018, 4)).toEqual([0, 0.0005, 0.001, 0.0015]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(formatNumber(0.0003)).toBe('3e-4');
    expect(formatNumber(2.25)).toBe('2.25');
    expect(formatNumber(7.499129772186279)).toBe('7.499');
    expect(formatNumber(0)).toBe('0');
  });
});
