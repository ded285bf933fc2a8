/**
 * The cuda backend's kernels, keyed by IR op (the same seam as the tfjs kernels of runtime/ops): each
 * op says which temporary buffers it needs (so the memory plan knows them before the first launch) and
 * launches its forward work. Formulas: specs/ir.md §4. Products with a weight go to cuBLASLt; the
 * rest to runtime/cuda/kernels/forward.cu.
 */
import type { Node } from '../../ir/types.js';
import { parseRope } from '../../ir/rope.js';
import { RuntimeError } from '../errors.js';
import type { CublasLt } from './cublaslt.js';
import type { CudaDriver, DevicePtr, KernelArg } from './driver.js';
import { f32, i32, ptr } from './driver.js';

const F32 = 4;
const I32 = 4;

/** What an op sees while it runs: device addresses of its inputs, outputs, params and temporaries. */
/** Static widths of a node's values and its params' stored shapes (from the IR's typing). */
export interface NodeShapes {
  readonly node: Node;
  /** the last axis of input i / output i */
  inputWidth(i: number): number;
  outputWidth(i: number): number;
  /** a param's stored shape ([n, …] for a stacked one) */
  paramShape(i: number): readonly number[];
}

export interface OpContext extends NodeShapes {
  /** batch rows and sequence length of this evaluation */
  readonly B: number;
  readonly T: number;
  input(i: number): DevicePtr;
  output(i: number): DevicePtr;
  param(i: number): DevicePtr;
  /** a weight the executor derived at load time (e.g. gate and up projections side by side) */
  derived(name: string): DevicePtr;
  state(i: number): DevicePtr | undefined;
  temp(name: string): DevicePtr;
  /** cos/sin tables [T, d/2] of a rotary width, for this node's `rope` attribute */
  rotary(d: number): { readonly cos: DevicePtr; readonly sin: DevicePtr };
  readonly gpu: Gpu;
}

export interface Gpu {
  readonly driver: CudaDriver;
  readonly lt: CublasLt;
  kernel(name: string): unknown;
}

export interface TempNeed {
  readonly name: string;
  readonly bytes: number;
}

/** A weight built at load time from the node's params (fused layouts). */
export interface DerivedWeight {
  readonly name: string;
  /** param indices whose stored tensors are concatenated, per stack entry, along the rows */
  readonly rowsOf: readonly number[];
}

export interface CudaOp {
  temps(shapes: NodeShapes, B: number, T: number): readonly TempNeed[];
  derived?(node: Node): readonly DerivedWeight[];
  forward(ctx: OpContext): void;
}

/** A read of an attribute the IR verifier has already typed (specs/ir.md §4 lists each op's). */
function num(node: Node, key: string): number {
  const v = node.attrs[key];
  if (typeof v !== 'number') throw new RuntimeError(`${node.op}: attribute ${key} must be a number`);
  return v;
}

const grid1 = (n: number, block = 256): [number] => [Math.max(1, Math.min(65535 * 8, Math.ceil(n / block)))];

function launch(gpu: Gpu, name: string, grid: readonly [number, number?, number?], block: number, args: readonly KernelArg[], shared = 0): void {
  gpu.driver.launch(gpu.kernel(name), grid, block, args, shared);
}

/** y[rows, out] = x[rows, in] · Wᵀ (W stored [out, in]) */
function linearNT(gpu: Gpu, x: DevicePtr, w: DevicePtr, y: DevicePtr, rows: number, inDim: number, outDim: number): void {
  gpu.lt.gemm({ m: rows, n: outDim, k: inDim, transA: false, transB: true, a: x, b: w, c: y });
}

function rmsnorm(gpu: Gpu, x: DevicePtr, w: DevicePtr, y: DevicePtr, rows: number, n: number, sx: number, sy: number, eps: number): void {
  launch(gpu, 'rmsnorm_fwd', [rows], 256, [ptr(x), ptr(w), ptr(y), ptr(0n), i32(n), i32(sx), i32(sy), f32(eps)]);
}

function rope(ctx: OpContext, x: DevicePtr, rows: number, heads: number, sr: number, sh: number, d: number, interleaved: boolean): void {
  const { cos, sin } = ctx.rotary(d);
  launch(ctx.gpu, 'rope_fwd', grid1(rows * heads * (d / 2)), 256, [ptr(x), ptr(cos), ptr(sin), i32(rows), i32(ctx.T), i32(heads), i32(sr), i32(sh), i32(d), i32(interleaved ? 1 : 0), f32(1)]);
}

interface AttentionOperands {
  readonly q: DevicePtr;
  readonly sq: number;
  readonly hq: number;
  readonly k1: DevicePtr;
  readonly sk1: number;
  readonly hk1: number;
  readonly d1: number;
  readonly k2: DevicePtr;
  readonly sk2: number;
  readonly hk2: number;
  readonly d2: number;
  readonly v: DevicePtr;
  readonly sv: number;
  readonly hv: number;
  readonly dv: number;
  readonly o: DevicePtr;
  readonly heads: number;
  readonly group: number;
  readonly scale: number;
}

function attention(ctx: OpContext, a: AttentionOperands): void {
  const shared = (ctx.T + a.d1 + a.d2) * F32;
  const limit = ctx.gpu.driver.info.maxSharedPerBlock;
  if (shared > limit) throw new RuntimeError(`attention at sequence length ${ctx.T} needs ${shared} bytes of shared memory; this GPU allows ${limit}`);
  const fn = ctx.gpu.kernel('attention_fwd');
  if (shared > 48 * 1024) ctx.gpu.driver.allowSharedMemory(fn, shared);
  ctx.gpu.driver.launch(
    fn,
    [ctx.T, a.heads, ctx.B],
    128,
    [ptr(a.q), i32(a.sq), i32(a.hq), ptr(a.k1), i32(a.sk1), i32(a.hk1), i32(a.d1), ptr(a.k2), i32(a.sk2), i32(a.hk2), i32(a.d2), ptr(a.v), i32(a.sv), i32(a.hv), i32(a.dv), ptr(a.o), i32(a.heads * a.dv), ptr(0n), i32(ctx.T), i32(a.heads), i32(a.group), f32(a.scale)],
    shared,
  );
}

const embedding: CudaOp = {
  temps: () => [],
  forward(ctx) {
    const D = ctx.outputWidth(0);
    launch(ctx.gpu, 'embedding_fwd', [ctx.B * ctx.T], 256, [ptr(ctx.input(0)), ptr(ctx.param(0)), ptr(ctx.output(0)), i32(ctx.T), i32(D), i32(num(ctx.node, 'shift'))]);
  },
};

/** F of a SwiGLU (or stacked expert) node: the rows of its gate projection. */
function hiddenOf(shapes: NodeShapes): number {
  const s = shapes.paramShape(0);
  return s[s.length - 2]!;
}

const rmsNorm: CudaOp = {
  temps: () => [],
  forward(ctx) {
    const n = ctx.outputWidth(0);
    rmsnorm(ctx.gpu, ctx.input(0), ctx.param(0), ctx.output(0), ctx.B * ctx.T, n, n, n, num(ctx.node, 'eps'));
  },
};

/** `linear` and `lm_head`: y = x · Wᵀ */
const projection: CudaOp = {
  temps: () => [],
  forward(ctx) {
    const rows = ctx.B * ctx.T;
    linearNT(ctx.gpu, ctx.input(0), ctx.param(0), ctx.output(0), rows, ctx.inputWidth(0), ctx.outputWidth(0));
  },
};

const add: CudaOp = {
  temps: () => [],
  forward(ctx) {
    const n = ctx.B * ctx.T * ctx.outputWidth(0);
    launch(ctx.gpu, 'add_fwd', grid1(n), 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.output(0)), { u64: BigInt(n) }]);
  },
};

const concat: CudaOp = {
  temps: () => [],
  forward(ctx) {
    const p = ctx.inputWidth(0);
    const q = ctx.inputWidth(1);
    const rows = ctx.B * ctx.T;
    launch(ctx.gpu, 'concat_fwd', grid1(rows * (p + q)), 256, [ptr(ctx.input(0)), ptr(ctx.input(1)), ptr(ctx.output(0)), { u64: BigInt(rows) }, i32(p), i32(q)]);
  },
};

function swigluForward(gpu: Gpu, x: DevicePtr, gateUp: DevicePtr, down: DevicePtr, gu: DevicePtr, act: DevicePtr, y: DevicePtr, rows: number, D: number, F: number): void {
  linearNT(gpu, x, gateUp, gu, rows, D, 2 * F);
  launch(gpu, 'swiglu_gate_fwd', grid1(rows * F), 256, [ptr(gu), ptr(act), { u64: BigInt(rows) }, i32(F)]);
  linearNT(gpu, act, down, y, rows, F, D);
}

const swiglu: CudaOp = {
  temps(shapes, B, T) {
    const F = hiddenOf(shapes);
    return [
      { name: 'gu', bytes: B * T * 2 * F * F32 },
      { name: 'act', bytes: B * T * F * F32 },
    ];
  },
  derived: () => [{ name: 'gate_up', rowsOf: [0, 1] }],
  forward(ctx) {
    const D = ctx.outputWidth(0);
    swigluForward(ctx.gpu, ctx.input(0), ctx.derived('gate_up'), ctx.param(2), ctx.temp('gu'), ctx.temp('act'), ctx.output(0), ctx.B * ctx.T, D, hiddenOf(ctx));
  },
};


const gqa: CudaOp = {
  temps({ node }, B, T) {
    const H = num(node, 'heads');
    const G = num(node, 'kv_heads');
    const d = num(node, 'head_dim');
    return [
      { name: 'qkv', bytes: B * T * (H + 2 * G) * d * F32 },
      { name: 'o', bytes: B * T * H * d * F32 },
    ];
  },
  derived: () => [{ name: 'qkv', rowsOf: [0, 1, 2] }],
  forward(ctx) {
    const { node } = ctx;
    const H = num(node, 'heads');
    const G = num(node, 'kv_heads');
    const d = num(node, 'head_dim');
    const D = ctx.outputWidth(0);
    const rows = ctx.B * ctx.T;
    const width = (H + 2 * G) * d;
    const qkv = ctx.temp('qkv');
    linearNT(ctx.gpu, ctx.input(0), ctx.derived('qkv'), qkv, rows, D, width);
    const interleaved = parseRope(node.attrs.rope).interleaved;
    rope(ctx, qkv, rows, H, width, d, d, interleaved);
    const k = qkv + BigInt(H * d * F32);
    rope(ctx, k, rows, G, width, d, d, interleaved);
    const v = qkv + BigInt((H + G) * d * F32);
    attention(ctx, { q: qkv, sq: width, hq: d, k1: k, sk1: width, hk1: d, d1: d, k2: k, sk2: 0, hk2: 0, d2: 0, v, sv: width, hv: d, dv: d, o: ctx.temp('o'), heads: H, group: H / G, scale: num(node, 'softmax_scale') });
    linearNT(ctx.gpu, ctx.temp('o'), ctx.param(3), ctx.output(0), rows, H * d, D);
  },
};

interface Mla {
  readonly H: number;
  readonly qRank: number;
  readonly R: number;
  readonly dn: number;
  readonly dr: number;
  readonly dv: number;
}

function mlaShape(node: Node): Mla {
  return { H: num(node, 'heads'), qRank: num(node, 'q_rank'), R: num(node, 'kv_rank'), dn: num(node, 'nope_dim'), dr: num(node, 'rope_dim'), dv: num(node, 'v_dim') };
}

const mla: CudaOp = {
  temps({ node }, B, T) {
    const { H, qRank, R, dn, dr, dv } = mlaShape(node);
    const rows = B * T;
    return [
      ...(qRank > 0 ? [{ name: 'qa', bytes: rows * qRank * F32 }, { name: 'qan', bytes: rows * qRank * F32 }] : []),
      { name: 'q', bytes: rows * H * (dn + dr) * F32 },
      { name: 'kva', bytes: rows * (R + dr) * F32 },
      { name: 'cn', bytes: rows * R * F32 },
      { name: 'kv', bytes: rows * H * (dn + dv) * F32 },
      { name: 'o', bytes: rows * H * dv * F32 },
    ];
  },
  forward(ctx) {
    const { node, gpu } = ctx;
    const { H, qRank, R, dn, dr, dv } = mlaShape(node);
    const eps = num(node, 'eps');
    const D = ctx.outputWidth(0);
    const rows = ctx.B * ctx.T;
    const x = ctx.input(0);
    const q = ctx.temp('q');
    const qk = dn + dr;
    // params: [q_a, q_a_norm, q_b] or [q], then kv_a, kv_a_norm, kv_b, o
    let p = 0;
    if (qRank > 0) {
      linearNT(gpu, x, ctx.param(p++), ctx.temp('qa'), rows, D, qRank);
      rmsnorm(gpu, ctx.temp('qa'), ctx.param(p++), ctx.temp('qan'), rows, qRank, qRank, qRank, eps);
      linearNT(gpu, ctx.temp('qan'), ctx.param(p++), q, rows, qRank, H * qk);
    } else {
      linearNT(gpu, x, ctx.param(p++), q, rows, D, H * qk);
    }
    const kva = ctx.temp('kva');
    linearNT(gpu, x, ctx.param(p++), kva, rows, D, R + dr);
    rmsnorm(gpu, kva, ctx.param(p++), ctx.temp('cn'), rows, R, R + dr, R, eps);
    const kv = ctx.temp('kv');
    linearNT(gpu, ctx.temp('cn'), ctx.param(p++), kv, rows, R, H * (dn + dv));
    rope(ctx, q + BigInt(dn * F32), rows, H, H * qk, qk, dr, true);
    const kpe = kva + BigInt(R * F32);
    rope(ctx, kpe, rows, 1, R + dr, 0, dr, true);
    const o = ctx.temp('o');
    attention(ctx, {
      q, sq: H * qk, hq: qk,
      k1: kv, sk1: H * (dn + dv), hk1: dn + dv, d1: dn,
      k2: kpe, sk2: R + dr, hk2: 0, d2: dr,
      v: kv + BigInt(dn * F32), sv: H * (dn + dv), hv: dn + dv, dv,
      o, heads: H, group: 1, scale: num(node, 'softmax_scale'),
    });
    linearNT(gpu, o, ctx.param(p), ctx.output(0), rows, H * dv, D);
  },
};

const router: CudaOp = {
  temps({ node }, B, T) {
    return [{ name: 'work', bytes: B * T * num(node, 'experts') * F32 }];
  },
  forward(ctx) {
    const { node, gpu } = ctx;
    const E = num(node, 'experts');
    const K = num(node, 'top_k');
    const G = num(node, 'groups');
    const rows = ctx.B * ctx.T;
    if (E > 1024 || K > 32 || G > 64) throw new RuntimeError(`moe.router on cuda supports up to 1024 experts, top_k 32 and 64 groups (this node: ${E}, ${K}, ${G})`);
    // outputs: weights, indices, scores, router_logits, load
    linearNT(gpu, ctx.input(0), ctx.param(0), ctx.output(3), rows, ctx.outputWidth(0), E);
    gpu.driver.zero(ctx.output(4), E * F32);
    const bias = ctx.state(0) ?? 0n;
    launch(gpu, 'router_fwd', grid1(rows, 128), 128, [
      ptr(ctx.output(3)), ptr(bias), ptr(ctx.output(0)), ptr(ctx.output(1)), ptr(ctx.output(2)), ptr(ctx.output(4)), ptr(ctx.temp('work')),
      i32(rows), i32(E), i32(K), i32(node.attrs.score === 'softmax' ? 1 : 0), i32(G), i32(num(node, 'top_groups')),
      i32(node.attrs.group_score === 'top2_sum' ? 1 : 0), i32(node.attrs.normalize === true ? 1 : 0), f32(num(node, 'scale')),
    ]);
  },
};

/** Rows per tile of the grouped GEMM (grouped_gemm_nt's GT): each expert's segment is padded to it. */
export const EXPERT_TILE = 64;

/** The expert-sorted buffer's rows: every (token, k) pair plus each expert's padding to a whole tile. */
export function expertRows(N: number, K: number, E: number): number {
  return N * K + E * (EXPERT_TILE - 1);
}

/** Capacity per expert (specs/ir.md §4.10), or −1 when dropless. */
export function expertCapacity(capacity: number | null, N: number, K: number, E: number): number {
  return capacity === null ? -1 : Math.ceil((capacity * N * K) / E);
}

const experts: CudaOp = {
  temps(shapes, B, T) {
    const { node } = shapes;
    const E = num(node, 'experts');
    const K = num(node, 'top_k');
    const N = B * T;
    const rows = Math.ceil(expertRows(N, K, E) / EXPERT_TILE) * EXPERT_TILE;
    const D = shapes.outputWidth(0);
    const F = hiddenOf(shapes);
    return [
      { name: 'counts', bytes: E * I32 },
      { name: 'offsets', bytes: (E + 1) * I32 },
      { name: 'tiles', bytes: (rows / EXPERT_TILE) * I32 },
      { name: 'slot', bytes: N * K * I32 },
      { name: 'row_token', bytes: rows * I32 },
      { name: 'xs', bytes: rows * D * F32 },
      { name: 'gu', bytes: rows * 2 * F * F32 },
      { name: 'act', bytes: rows * F * F32 },
      { name: 'out', bytes: rows * D * F32 },
    ];
  },
  forward(ctx) {
    const { node, gpu } = ctx;
    const E = num(node, 'experts');
    const K = num(node, 'top_k');
    const N = ctx.B * ctx.T;
    const D = ctx.outputWidth(0);
    const F = hiddenOf(ctx);
    const tiles = Math.ceil(expertRows(N, K, E) / EXPERT_TILE);
    const cap = expertCapacity(node.attrs.capacity === null ? null : num(node, 'capacity'), N, K, E);
    const t = (name: string): KernelArg => ptr(ctx.temp(name));
    launch(gpu, 'expert_count', grid1(E, 64), 64, [ptr(ctx.input(2)), t('counts'), i32(N), i32(K), i32(E), i32(cap)]);
    launch(gpu, 'expert_offsets', [1], 32, [t('counts'), t('offsets'), t('tiles'), i32(E), i32(EXPERT_TILE), i32(tiles)]);
    launch(gpu, 'expert_assign', grid1(E, 64), 64, [ptr(ctx.input(2)), t('offsets'), t('slot'), t('row_token'), i32(N), i32(K), i32(E), i32(cap)]);
    launch(gpu, 'expert_gather', [tiles * EXPERT_TILE], 128, [ptr(ctx.input(0)), t('row_token'), t('offsets'), t('xs'), i32(D), i32(E)]);
    const gemm = (a: string, w1: DevicePtr, w2: DevicePtr, split: number, c: string, n: number, k: number): void =>
      launch(gpu, 'grouped_gemm_nt', [tiles, Math.ceil(n / EXPERT_TILE)], 256, [t(a), i32(k), ptr(w1), ptr(w2), i32(split), t(c), i32(n), t('tiles'), i32(n), i32(k)]);
    gemm('xs', ctx.param(0), ctx.param(1), F, 'gu', 2 * F, D);
    launch(gpu, 'swiglu_gate_fwd', grid1(tiles * EXPERT_TILE * F), 256, [t('gu'), t('act'), { u64: BigInt(tiles * EXPERT_TILE) }, i32(F)]);
    gemm('act', ctx.param(2), ctx.param(2), D, 'out', D, F);
    launch(gpu, 'expert_combine', [N], 128, [t('out'), ptr(ctx.input(1)), t('slot'), ptr(ctx.output(0)), i32(D), i32(K)]);
  },
};

export const CUDA_OPS: { readonly [op: string]: CudaOp } = {
  embedding,
  rms_norm: rmsNorm,
  linear: projection,
  lm_head: projection,
  concat,
  add,
  'attention.mla': mla,
  'attention.gqa': gqa,
  'ffn.swiglu': swiglu,
  'moe.router': router,
  'moe.experts': experts,
};
