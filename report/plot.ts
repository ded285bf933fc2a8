/**
 * `moe plot`: one self-contained SVG of a run's `metrics.jsonl` (any browser shows it, no extra
 * software): training loss (validation loss as points), learning rate, and per MoE layer a heatmap of
 * the experts' share of the router's selections over time with the layer's mean balance (max/mean).
 * Pure functions over the records; values that are missing or not finite are skipped. Heatmaps are
 * one rect per cell (hover text says the share); very large ones (over MAX_VECTOR_CELLS cells, e.g.
 * 64+ experts over 200 columns) are one embedded PNG pixel per cell to keep the file small.
 */
import { deflateSync } from 'node:zlib';
import type { MetricsRecord } from '../runtime/run/metrics.js';

export interface PlotOptions {
  /** shown at the top, e.g. the run folder's name */
  readonly title?: string;
}

/** At most this many heatmap columns: longer runs average consecutive steps into buckets. */
export const MAX_HEATMAP_COLUMNS = 200;

/** Heatmaps with more cells than this get no per-cell hover text (it would make the file large). */
const MAX_TOOLTIP_CELLS = 2000;
/** Heatmaps with more cells than this are drawn as an embedded PNG, one pixel per cell. */
export const MAX_VECTOR_CELLS = 16 * MAX_HEATMAP_COLUMNS;

const WIDTH = 960;
const LEFT = 84;
const RIGHT = 150;
const PLOT_W = WIDTH - LEFT - RIGHT;
const LOSS_H = 220;
const LR_H = 120;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const LOSS_COLOUR = '#1f77b4';
const VALID_COLOUR = '#d62728';
const LR_COLOUR = '#2ca02c';
/** white (share 0) → dark blue (twice the uniform share or more) */
const RAMP: readonly (readonly [number, number, number])[] = [
  [255, 255, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];

/** Text for SVG character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Where a load's layer sits: 0 a main decoder layer, 1 an MTP module (index k from 1), 2 unknown. */
interface LayerPlace {
  readonly group: 0 | 1 | 2;
  readonly index: number;
}

/**
 * A load's place from the value name as compilers before IR version 2 named it: `h.2.ffn_out.load`
 * is main layer 1, `mtp.1.h.ffn_out.load` MTP module 1. Only for metrics files written before the
 * records carried `layer` (placeOf); names carry no meaning otherwise (specs/ir.md).
 */
function placeFromOldName(valueName: string): LayerPlace {
  const main = /^h\.(\d+)\.ffn_out\.load$/.exec(valueName);
  if (main) return { group: 0, index: Number(main[1]) - 1 };
  const mtp = /^mtp\.(\d+)\.h\.ffn_out\.load$/.exec(valueName);
  if (mtp) return { group: 1, index: Number(mtp[1]) };
  return { group: 2, index: 0 };
}

/**
 * A load's place from the records: `layer` maps each load to its router node's layer (main layers
 * 0 … L−1, MTP module k is L + k − 1) and `main_layers` is L, as moe train writes them. Metrics files
 * written before that have neither: their value names are read the old way (placeFromOldName).
 */
function placeOf(name: string, records: readonly MetricsRecord[]): LayerPlace {
  for (const r of records) {
    const layer = isObject(r.layer) ? r.layer[name] : undefined;
    if (!finite(layer) || !Number.isInteger(layer) || layer < 0) continue;
    const main = r.main_layers;
    if (finite(main) && layer >= main) return { group: 1, index: layer - main + 1 };
    return { group: 0, index: layer };
  }
  return placeFromOldName(name);
}

function labelOf(place: LayerPlace, valueName: string): string {
  if (place.group === 0) return `layer ${place.index}`;
  if (place.group === 1) return `MTP ${place.index}`;
  return valueName.replace(/\.load$/, '');
}

/** A readable name for a router load value of an older metrics file: `h.2.ffn_out.load` → "layer 1", `mtp.1.h.ffn_out.load` → "MTP 1". */
export function layerLabel(valueName: string): string {
  return labelOf(placeFromOldName(valueName), valueName);
}

/** Main layers in order, then MTP depths, then anything else by name. */
function compareLayers(a: { name: string; place: LayerPlace }, b: { name: string; place: LayerPlace }): number {
  return a.place.group - b.place.group || a.place.index - b.place.index || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Short, exact-enough numbers for ticks and labels: 0.0003 → "3e-4", 1500 → "1500", 2.25 → "2.25". */
export function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e6) {
    const [mantissa, exponent] = v.toExponential(2).split('e');
    return `${String(Number(mantissa))}e${Number(exponent)}`;
  }
  return String(Number(v.toPrecision(4)));
}

/** One notation for every tick of an axis: all in exponent form when the axis is tiny or huge. */
function tickFormat(ticks: readonly number[]): (v: number) => string {
  const largest = Math.max(...ticks.map(Math.abs));
  if (largest > 0 && (largest < 1e-2 || largest >= 1e6)) {
    return (v) => (v === 0 ? '0' : v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e'));
  }
  return formatNumber;
}

/** About `count` round ticks (1, 2, 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return ticks;
}

/** Integer ticks for the step axis. */
function stepTicks(lo: number, hi: number): number[] {
  return niceTicks(lo, hi, 8).filter((t) => Number.isInteger(t));
}

const px = (v: number): string => String(Math.round(v * 100) / 100);

interface Series {
  readonly steps: number[];
  readonly values: number[];
}

function series(records: readonly MetricsRecord[], key: string): Series {
  const steps: number[] = [];
  const values: number[] = [];
  for (const r of records) {
    const v = r[key];
    if (finite(r.step) && finite(v)) {
      steps.push(r.step);
      values.push(v);
    }
  }
  return { steps, values };
}

/** One part of the training loss (`loss_parts: {lm, mtp, aux, z}`, written by moe train with the tfjs engine). */
function partSeries(records: readonly MetricsRecord[], part: string): Series {
  return series(
    records.map((r) => ({ step: r.step, value: isObject(r.loss_parts) ? r.loss_parts[part] : undefined })),
    'value',
  );
}

/** One reward component's per-step mean (GRPO logs `components: {rule: mean}`). */
function componentSeries(records: readonly MetricsRecord[], rule: string): Series {
  return series(
    records.map((r) => ({ step: r.step, value: isObject(r.components) ? r.components[rule] : undefined })),
    'value',
  );
}

const PART_COLOURS = { lm: '#17becf', mtp: '#9467bd', aux: '#ff7f0e', z: '#8c564b' } as const;
const PART_LABELS = { mtp: 'MTP', aux: 'balance (aux)', z: 'router z' } as const;

/** GRPO's per-step figures beyond reward and KL: metrics key, class, legend, heading. */
const GRPO_PANELS: readonly (readonly [string, string, string, string])[] = [
  ['completion_length', 'completion-length', 'tokens', 'Mean completion length'],
  ['entropy', 'entropy', 'entropy (nats)', 'Policy entropy of the sampled tokens'],
  ['clip_fraction', 'clip-fraction', 'clip fraction', 'Fraction of tokens clipped by the surrogate'],
];

const COMPONENT_COLOURS = ['#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** [lo, hi] of the values with a little room; a single value gets a band around it. */
function valueDomain(values: readonly number[], fromZero = false): [number, number] {
  // a loop, not Math.min(...values): a long run has more values than a call takes arguments
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (fromZero) lo = Math.min(0, lo);
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.1 || 1;
    return [fromZero && lo >= 0 ? Math.max(0, lo - pad) : lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  return [fromZero && lo === 0 ? 0 : lo - pad, hi + pad];
}

interface XAxis {
  readonly lo: number;
  readonly hi: number;
  readonly x: (step: number) => number;
  readonly ticks: number[];
}

function xAxis(minStep: number, maxStep: number): XAxis {
  // half a step either side, so a heatmap column is centred on its step like the line's point
  const lo = minStep - 0.5;
  const hi = maxStep + 0.5;
  return { lo, hi, x: (s) => LEFT + ((s - lo) / (hi - lo)) * PLOT_W, ticks: stepTicks(minStep, maxStep) };
}

/** Frame, step ticks along the bottom, value ticks with grid lines on the left, axis titles. */
function axes(out: string[], top: number, height: number, xs: XAxis, yTicks: readonly number[], y: (v: number) => number, yTitle: string, xTitle: boolean): void {
  const bottom = top + height;
  const format = tickFormat(yTicks);
  for (const t of yTicks) {
    const ty = y(t);
    if (ty < top - 0.5 || ty > bottom + 0.5) continue;
    out.push(`<line x1="${LEFT}" y1="${px(ty)}" x2="${LEFT + PLOT_W}" y2="${px(ty)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${LEFT - 6}" y="${px(ty + 4)}" text-anchor="end" font-size="11">${escapeXml(format(t))}</text>`);
  }
  stepAxis(out, bottom, xs, xTitle);
  out.push(`<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${height}" fill="none" stroke="#333"/>`);
  out.push(`<text transform="translate(${LEFT - 58},${px(top + height / 2)}) rotate(-90)" text-anchor="middle" font-size="12">${escapeXml(yTitle)}</text>`);
}

function stepAxis(out: string[], bottom: number, xs: XAxis, xTitle: boolean): void {
  for (const t of xs.ticks) {
    const tx = xs.x(t);
    out.push(`<line x1="${px(tx)}" y1="${bottom}" x2="${px(tx)}" y2="${bottom + 4}" stroke="#333"/>`);
    out.push(`<text x="${px(tx)}" y="${bottom + 16}" text-anchor="middle" font-size="11">${t}</text>`);
  }
  if (xTitle) out.push(`<text x="${LEFT + PLOT_W / 2}" y="${bottom + 32}" text-anchor="middle" font-size="12">step</text>`);
}

interface Line {
  readonly s: Series;
  readonly colour: string;
  /** class of the polyline (and `CLS-points` of its dots), for tests and styling */
  readonly cls: string;
  readonly label: string;
  readonly points: 'line' | 'dots';
}

function linePanel(out: string[], top: number, height: number, xs: XAxis, lines: readonly Line[], yTitle: string, heading: string, fromZero: boolean): void {
  out.push(`<text x="${LEFT}" y="${top - 8}" font-size="13" font-weight="600">${escapeXml(heading)}</text>`);
  const all = lines.flatMap((l) => l.s.values);
  if (all.length === 0) {
    out.push(`<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${height}" fill="none" stroke="#333"/>`);
    out.push(`<text x="${LEFT + PLOT_W / 2}" y="${top + height / 2}" text-anchor="middle" font-size="12" fill="#777">no ${escapeXml(yTitle)} recorded</text>`);
    stepAxis(out, top + height, xs, true);
    return;
  }
  const [lo, hi] = valueDomain(all, fromZero);
  const y = (v: number): number => top + height - ((v - lo) / (hi - lo)) * height;
  axes(out, top, height, xs, niceTicks(lo, hi, 5), y, yTitle, true);
  lines.forEach((line, i) => {
    const { steps, values } = line.s;
    if (steps.length === 0) return;
    const pts = steps.map((s, k) => `${px(xs.x(s))},${px(y(values[k]!))}`);
    if (line.points === 'line') {
      out.push(`<polyline class="${line.cls}" fill="none" stroke="${line.colour}" stroke-width="1.6" stroke-linejoin="round" points="${pts.join(' ')}"/>`);
    }
    // dots for validation points, and for short runs where a line alone would hide single points
    if (line.points === 'dots' || steps.length <= 40) {
      const r = line.points === 'dots' || steps.length === 1 ? 3.5 : 2;
      out.push(`<g class="${line.cls}-points" fill="${line.colour}">${steps.map((s, k) => `<circle cx="${px(xs.x(s))}" cy="${px(y(values[k]!))}" r="${r}"/>`).join('')}</g>`);
    }
    // legend, top right outside the frame
    const ly = top + 12 + i * 18;
    out.push(
      line.points === 'dots'
        ? `<circle cx="${LEFT + PLOT_W + 22}" cy="${ly - 4}" r="3.5" fill="${line.colour}"/>`
        : `<line x1="${LEFT + PLOT_W + 12}" y1="${ly - 4}" x2="${LEFT + PLOT_W + 32}" y2="${ly - 4}" stroke="${line.colour}" stroke-width="2"/>`,
    );
    out.push(`<text x="${LEFT + PLOT_W + 38}" y="${ly}" font-size="11">${escapeXml(line.label)}</text>`);
  });
}

interface Layer {
  readonly name: string;
  readonly label: string;
  readonly experts: number;
  /** per column: first and last step, and each expert's mean share (NaN where no record had it) */
  readonly columns: { readonly first: number; readonly last: number; readonly shares: number[] }[];
  readonly meanBalance: number;
}

/** Each record's load split into shares per layer, then averaged within buckets of consecutive records. */
function layers(records: readonly MetricsRecord[]): Layer[] {
  const names = new Set<string>();
  for (const r of records) if (isObject(r.load)) for (const name of Object.keys(r.load)) names.add(name);
  const result: Layer[] = [];
  const placed = [...names].map((name) => ({ name, place: placeOf(name, records) })).sort(compareLayers);
  for (const { name, place } of placed) {
    const rows: { step: number; shares: number[] }[] = [];
    const balances: number[] = [];
    let experts = 0;
    for (const r of records) {
      const counts = isObject(r.load) ? r.load[name] : undefined;
      if (!finite(r.step) || !Array.isArray(counts)) continue;
      const values = counts.map((c) => (finite(c) && c >= 0 ? c : NaN));
      const total = values.reduce((sum, c) => (Number.isNaN(c) ? sum : sum + c), 0);
      if (!(total > 0)) continue;
      experts = Math.max(experts, values.length);
      rows.push({ step: r.step, shares: values.map((c) => c / total) });
      const given = isObject(r.balance) ? r.balance[name] : undefined;
      const known = values.filter((c) => !Number.isNaN(c));
      balances.push(finite(given) ? given : Math.max(...known) / (total / known.length));
    }
    if (rows.length === 0 || experts === 0) continue;
    const per = Math.ceil(rows.length / MAX_HEATMAP_COLUMNS);
    const columns: Layer['columns'][number][] = [];
    for (let start = 0; start < rows.length; start += per) {
      const bucket = rows.slice(start, start + per);
      const shares = Array.from({ length: experts }, (_, e) => {
        const known = bucket.map((b) => b.shares[e]).filter(finite);
        return known.length ? known.reduce((a, b) => a + b, 0) / known.length : NaN;
      });
      columns.push({ first: bucket[0]!.step, last: bucket[bucket.length - 1]!.step, shares });
    }
    const meanBalance = balances.length ? balances.reduce((a, b) => a + b, 0) / balances.length : NaN;
    result.push({ name, label: labelOf(place, name), experts, columns, meanBalance });
  }
  return result;
}

/** The ramp at t in [0, 1]. */
function colour(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [RAMP[i]!, RAMP[i + 1]!];
  const mix = (k: number): string => Math.round(a[k]! + (b[k]! - a[k]!) * f).toString(16).padStart(2, '0');
  return `#${mix(0)}${mix(1)}${mix(2)}`;
}

/** Row height: readable labels for a few experts, still bounded for hundreds. */
function heatmapHeight(experts: number): number {
  return experts <= 16 ? experts * 14 : Math.min(256, Math.max(224, experts));
}

function heatmapPanel(out: string[], top: number, xs: XAxis, layer: Layer): number {
  const height = heatmapHeight(layer.experts);
  const rowH = height / layer.experts;
  const balance = Number.isFinite(layer.meanBalance) ? `mean balance (max/mean) ${layer.meanBalance.toFixed(2)}` : 'mean balance unknown';
  out.push(`<g class="heatmap" data-layer="${escapeXml(layer.name)}" data-experts="${layer.experts}">`);
  out.push(`<text x="${LEFT}" y="${top - 8}" font-size="13" font-weight="600">${escapeXml(`${layer.label}: expert load`)}<tspan dx="12" font-weight="400" fill="#555">${escapeXml(`${layer.experts} experts · ${balance} · ${layer.name}`)}</tspan></text>`);
  out.push(`<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${px(height)}" fill="#f0f0f0"/>`);
  if (layer.experts * layer.columns.length > MAX_VECTOR_CELLS) {
    out.push(rasterHeatmap(layer, xs, top, height));
  } else {
    vectorHeatmap(out, layer, xs, top, rowH);
  }
  // expert labels: every row when they fit, otherwise about 8
  const every = rowH >= 11 ? 1 : Math.ceil(layer.experts / 8);
  for (let e = 0; e < layer.experts; e += every) {
    out.push(`<text x="${LEFT - 6}" y="${px(top + (e + 0.5) * rowH + 4)}" text-anchor="end" font-size="10">${e}</text>`);
  }
  out.push(`<text transform="translate(${LEFT - 58},${px(top + height / 2)}) rotate(-90)" text-anchor="middle" font-size="12">expert</text>`);
  out.push(`<rect x="${LEFT}" y="${top}" width="${PLOT_W}" height="${px(height)}" fill="none" stroke="#333"/>`);
  stepAxis(out, top + height, xs, false);
  out.push('</g>');
  return height;
}

/** One rect per cell, with hover text when there are not too many. */
function vectorHeatmap(out: string[], layer: Layer, xs: XAxis, top: number, rowH: number): void {
  // hover text per cell, unless it would make the file large
  const tooltips = layer.experts * layer.columns.length <= MAX_TOOLTIP_CELLS;
  for (let e = 0; e < layer.experts; e++) {
    const cells: string[] = [];
    for (const column of layer.columns) {
      const share = column.shares[e]!;
      if (!Number.isFinite(share)) continue;
      const x0 = xs.x(column.first - 0.5);
      const x1 = xs.x(column.last + 0.5);
      const title = column.first === column.last ? `step ${column.first}` : `steps ${column.first}–${column.last}`;
      const cell = `<rect x="${px(x0)}" y="${px(top + e * rowH)}" width="${px(x1 - x0 + 0.4)}" height="${px(rowH + 0.4)}" fill="${colour((share * layer.experts) / 2)}"`;
      cells.push(
        tooltips
          ? `${cell}><title>${escapeXml(`${title}, expert ${e}: ${(share * 100).toFixed(1)}% of selections (${(share * layer.experts).toFixed(2)}× uniform)`)}</title></rect>`
          : `${cell}/>`,
      );
    }
    out.push(`<g class="expert-row" data-expert="${e}">${cells.join('')}</g>`);
  }
}

/**
 * A heatmap too big for one element per cell (hundreds of experts, long runs): one pixel per cell in
 * an embedded PNG stretched over the plot. Columns are taken as evenly spaced over their steps.
 */
function rasterHeatmap(layer: Layer, xs: XAxis, top: number, height: number): string {
  const w = layer.columns.length;
  const h = layer.experts;
  const rgb = new Uint8Array(w * h * 3).fill(0xf0);
  layer.columns.forEach((column, c) => {
    for (let e = 0; e < h; e++) {
      const share = column.shares[e]!;
      if (!Number.isFinite(share)) continue;
      const hex = colour((share * h) / 2);
      for (let k = 0; k < 3; k++) rgb[(e * w + c) * 3 + k] = parseInt(hex.slice(1 + 2 * k, 3 + 2 * k), 16);
    }
  });
  const x0 = xs.x(layer.columns[0]!.first - 0.5);
  const x1 = xs.x(layer.columns[w - 1]!.last + 0.5);
  const data = `data:image/png;base64,${encodePng(w, h, rgb).toString('base64')}`;
  return `<image class="heatmap-raster" x="${px(x0)}" y="${top}" width="${px(x1 - x0)}" height="${px(height)}" preserveAspectRatio="none" style="image-rendering:pixelated" href="${data}"/>`;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal 8-bit RGB PNG (no filtering) of `rgb`, row by row. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc(height * (width * 3 + 1));
  for (let y = 0; y < height; y++) rows.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** The colour scale: white = no selections, middle = the uniform share 1/E, dark = 2/E or more. */
function legend(out: string[], top: number): void {
  const x = LEFT + PLOT_W + 16;
  const h = 120;
  const steps = 24;
  out.push('<g class="legend">');
  out.push(`<text x="${x}" y="${top - 8}" font-size="11" font-weight="600">share of selections</text>`);
  for (let i = 0; i < steps; i++) {
    // top of the bar is dark (2× uniform), bottom is white (0)
    out.push(`<rect x="${x}" y="${px(top + (i * h) / steps)}" width="14" height="${px(h / steps + 0.4)}" fill="${colour(1 - (i + 0.5) / steps)}"/>`);
  }
  out.push(`<rect x="${x}" y="${top}" width="14" height="${h}" fill="none" stroke="#333"/>`);
  const labels: [number, string][] = [
    [0, '≥ 2× uniform'],
    [0.5, '1× uniform (1/E)'],
    [1, '0 (white)'],
  ];
  for (const [f, text] of labels) {
    out.push(`<text x="${x + 20}" y="${px(top + f * h + 4)}" font-size="10">${escapeXml(text)}</text>`);
  }
  out.push(`<text x="${x}" y="${top + h + 18}" font-size="10" fill="#555">E = experts in the layer</text>`);
  out.push('</g>');
}

/**
 * One SVG document over the run's steps: loss (a GRPO run: reward with each component, and KL),
 * learning rate, and a load heatmap per MoE layer.
 */
export function plotRun(records: readonly MetricsRecord[], options: PlotOptions = {}): string {
  const sorted = records.filter((r) => isObject(r) && finite(r.step)).sort((a, b) => a.step - b.step);
  const title = options.title ?? 'training run';
  const out: string[] = [];
  let y = 34;
  out.push(`<text x="${LEFT}" y="${y}" font-size="17" font-weight="700">${escapeXml(title)}</text>`);
  if (sorted.length === 0) {
    out.push(`<text x="${LEFT}" y="${y + 30}" font-size="13" fill="#777">no metrics recorded yet</text>`);
    return document(out, y + 50);
  }
  const minStep = sorted[0]!.step;
  const maxStep = sorted[sorted.length - 1]!.step;
  const loss = series(sorted, 'loss');
  const valid = series(sorted, 'valid_loss');
  const reward = series(sorted, 'reward');
  const lr = series(sorted, 'lr');
  const moe = layers(sorted);
  const rl = reward.values.length > 0;
  const change = (name: string, s: Series): string =>
    s.values.length > 1 ? `${name} ${formatNumber(s.values[0]!)} → ${formatNumber(s.values[s.values.length - 1]!)}` : s.values.length === 1 ? `${name} ${formatNumber(s.values[0]!)}` : '';
  const summary = [
    minStep === maxStep ? `step ${minStep}` : `steps ${minStep}–${maxStep}`,
    rl ? change('mean reward', reward) : change('loss', loss),
    valid.values.length ? `validation loss ${formatNumber(valid.values[valid.values.length - 1]!)}` : '',
    rl ? '' : moe.length ? `${moe.length} MoE layer${moe.length === 1 ? '' : 's'}` : 'no MoE layers',
  ].filter(Boolean);
  out.push(`<text x="${LEFT}" y="${y + 18}" font-size="12" fill="#555">${escapeXml(summary.join('  ·  '))}</text>`);
  y += 58;
  const xs = xAxis(minStep, maxStep);
  if (rl) {
    // GRPO: the reward and each rule's mean, then the KL to the reference (the loss hovers near 0)
    const rules = [...new Set(sorted.flatMap((r) => (isObject(r.components) ? Object.keys(r.components) : [])))];
    const rewardLines: Line[] = [
      { s: reward, colour: LOSS_COLOUR, cls: 'reward', label: 'mean reward', points: 'line' },
      ...rules.map((rule, i): Line => ({ s: componentSeries(sorted, rule), colour: COMPONENT_COLOURS[i % COMPONENT_COLOURS.length]!, cls: 'component', label: rule, points: 'line' })),
    ];
    linePanel(out, y, LOSS_H, xs, rewardLines, 'reward', 'Reward', true);
    y += LOSS_H + 66;
    linePanel(out, y, LR_H, xs, [{ s: series(sorted, 'kl'), colour: VALID_COLOUR, cls: 'kl', label: 'KL (k3)', points: 'line' }], 'KL', 'KL to the reference policy', true);
    y += LR_H + 66;
    // what GRPO logs of its completions and its update, each on its own scale
    for (const [key, cls, label, heading] of GRPO_PANELS) {
      linePanel(out, y, LR_H, xs, [{ s: series(sorted, key), colour: COMPONENT_COLOURS[1]!, cls, label, points: 'line' }], label, heading, true);
      y += LR_H + 66;
    }
  } else {
    const lm = partSeries(sorted, 'lm');
    const lossLines: Line[] = [{ s: loss, colour: LOSS_COLOUR, cls: 'loss', label: lm.values.length ? 'training loss (total)' : 'training loss', points: 'line' }];
    // validation is the next-token loss alone (loss.main): drawn beside the training loss's lm part, its like
    if (lm.values.length) lossLines.push({ s: lm, colour: PART_COLOURS.lm, cls: 'lm-loss', label: 'training lm loss', points: 'line' });
    if (valid.values.length) lossLines.push({ s: valid, colour: VALID_COLOUR, cls: 'valid-loss', label: lm.values.length ? 'validation (lm) loss' : 'validation loss', points: 'dots' });
    linePanel(out, y, LOSS_H, xs, lossLines, 'loss', 'Loss', false);
    y += LOSS_H + 66;
    const extra = (['mtp', 'aux', 'z'] as const).map((part) => ({ part, s: partSeries(sorted, part) })).filter(({ s: p }) => p.values.some((v) => v !== 0));
    if (extra.length) {
      const lines = extra.map(({ part, s: p }): Line => ({ s: p, colour: PART_COLOURS[part], cls: `${part}-loss`, label: PART_LABELS[part], points: 'line' }));
      linePanel(out, y, LR_H, xs, lines, 'loss', 'Other parts of the training loss (weighted as summed)', true);
      y += LR_H + 66;
    }
  }
  linePanel(out, y, LR_H, xs, [{ s: lr, colour: LR_COLOUR, cls: 'lr', label: 'learning rate', points: 'line' }], 'learning rate', 'Learning rate', true);
  y += LR_H + 66;
  if (moe.length === 0) {
    out.push(`<text x="${LEFT}" y="${y - 8}" font-size="13" fill="#777">${rl ? 'no expert load recorded (GRPO does not log it)' : 'no expert load recorded (no MoE layers)'}</text>`);
    return document(out, y + 10);
  }
  const bucketed = moe.some((l) => l.columns.some((c) => c.first !== c.last));
  out.push(`<text x="${LEFT}" y="${y - 10}" font-size="15" font-weight="700">Expert load per MoE layer</text>`);
  out.push(`<text x="${LEFT + 220}" y="${y - 10}" font-size="11" fill="#555">${escapeXml(`colour = expert's share of the step's selections${bucketed ? ', averaged over step buckets' : ''}`)}</text>`);
  y += 24;
  legend(out, y + 14);
  for (const layer of moe) {
    const h = heatmapPanel(out, y, xs, layer);
    y += h + 52;
  }
  out.push(`<text x="${LEFT + PLOT_W / 2}" y="${y - 22}" text-anchor="middle" font-size="12">step</text>`);
  return document(out, Math.max(y, 0));
}

function document(body: readonly string[], height: number): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.ceil(height)}" viewBox="0 0 ${WIDTH} ${Math.ceil(height)}" ${FONT} fill="#222">`,
    `<rect width="${WIDTH}" height="${Math.ceil(height)}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export interface PlottedRun {
  /** the legend's name for it, e.g. the run folder's */
  readonly name: string;
  readonly records: readonly MetricsRecord[];
}

const RUN_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The figures several runs are overlaid on, each drawn where any run logged it: key, axis title, heading, from zero. */
const OVERLAY_PANELS: readonly (readonly [string, string, string, boolean])[] = [
  ['loss', 'loss', 'Training loss', false],
  ['lm', 'loss', 'Training lm loss (what validation measures)', false],
  ['valid_loss', 'loss', 'Validation loss', false],
  ['reward', 'reward', 'Mean reward', true],
  ['kl', 'KL', 'KL to the reference policy', true],
  ['completion_length', 'tokens', 'Mean completion length', true],
  ['entropy', 'entropy (nats)', 'Policy entropy of the sampled tokens', true],
  ['clip_fraction', 'clip fraction', 'Fraction of tokens clipped by the surrogate', true],
  ['lr', 'learning rate', 'Learning rate', true],
];

/**
 * Several runs on one step axis, one colour per run: every figure of OVERLAY_PANELS that some run
 * logged (a run without it is absent from that panel). Expert-load heatmaps are per run
 * (`moe plot RUN`); one run alone is plotRun's picture.
 */
export function plotRuns(runs: readonly PlottedRun[], options: PlotOptions = {}): string {
  if (runs.length === 1) return plotRun(runs[0]!.records, options);
  const sorted = runs.map((r) => ({ name: r.name, records: r.records.filter((m) => isObject(m) && finite(m.step)).sort((a, b) => a.step - b.step) }));
  const out: string[] = [];
  let y = 34;
  out.push(`<text x="${LEFT}" y="${y}" font-size="17" font-weight="700">${escapeXml(options.title ?? `${runs.length} runs`)}</text>`);
  const steps = sorted.flatMap((r) => r.records.map((m) => m.step));
  if (steps.length === 0) {
    out.push(`<text x="${LEFT}" y="${y + 30}" font-size="13" fill="#777">no metrics recorded yet</text>`);
    return document(out, y + 50);
  }
  out.push(`<text x="${LEFT}" y="${y + 18}" font-size="12" fill="#555">${escapeXml(`${runs.length} runs overlaid, one colour each; expert load: moe plot RUN for one run`)}</text>`);
  y += 58;
  const xs = xAxis(Math.min(...steps), Math.max(...steps));
  for (const [key, yTitle, heading, fromZero] of OVERLAY_PANELS) {
    const lines = sorted.map((r, i): Line => {
      const s = key === 'lm' ? partSeries(r.records, 'lm') : series(r.records, key);
      return { s, colour: RUN_COLOURS[i % RUN_COLOURS.length]!, cls: `${key.replace(/_/g, '-')}-run-${i}`, label: r.name, points: key === 'valid_loss' && s.steps.length < r.records.length / 2 ? 'dots' : 'line' };
    });
    if (lines.every((l) => l.s.values.length === 0)) continue;
    linePanel(out, y, LOSS_H, xs, lines, yTitle, heading, fromZero);
    y += LOSS_H + 66;
  }
  return document(out, y);
}
