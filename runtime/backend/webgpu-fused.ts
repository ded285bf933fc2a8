/**
 * Fused webgpu kernels for op chains the model runs at every layer, each one dispatch where tfjs ops
 * take several: the RMSNorm (square, mean, add, rsqrt, two products: 6 dispatches) and its input
 * gradient, the rotary embedding (a permutation matmul, two products and a sum: 4), and SwiGLU's
 * silu(g)·u (3). On the GPU every dispatch has a fixed cost however small its work (bench/NOTES.md:
 * ~16 µs of host encoding and GPU time each in a replayed decode graph), and a decoding step is
 * hundreds of them; these chains were a quarter of a 0.5B model's.
 *
 * Each kernel computes the same float32 expression as the tfjs chain it replaces, in the same order
 * where the order is visible (a reduction's order is not: a workgroup tree here, a loop on the cpu
 * backend), so the two agree to rounding. The callers (ops/rms-norm.ts, ops/rope.ts,
 * infer/rotary.ts, ops/swiglu.ts) keep the tfjs chains for every other backend; the norm's and the
 * rotary map's gradients are written there from these kernels, siluMul carries its own. Reads go
 * through f32(): an int32 tensor cast to float32 keeps its int32 buffer.
 */
import { tf } from '../tf.js';
import { flatProgram, registerProgram, runProgram, wgslFloat } from './webgpu-internals.js';

// ---- RMSNorm: one workgroup per row ----

const NORM_THREADS = 256;

/**
 * WGSL: `let name` = Σ of `term` over the row's D columns (threads stride the row, four columns a
 * step so that four loads are in flight: a decoding step's norm is one row, and a loop of single
 * loads waits out the memory latency at every step), then a workgroup tree; the closing barrier lets
 * the next sum reuse `partial`. `term` reads column `j`.
 */
function rowSum(name: string, D: number, term: string): string {
  const step = NORM_THREADS * 4;
  const terms = [0, 1, 2, 3].map((u) => `select(0.0, ${term.replace(/\bj\b/g, `j${u}`)}, j${u} < ${D})`);
  return `
        var ${name}Part = 0.0;
        for (var j0 = t; live && j0 < ${D}; j0 += ${step}) {
          ${[0, 1, 2, 3].map((u) => `let j${u} = j0 + ${u * NORM_THREADS};`).join(' ')}
          ${name}Part += (${terms[0]} + ${terms[1]}) + (${terms[2]} + ${terms[3]});
        }
        partial[t] = ${name}Part;
        workgroupBarrier();
        for (var stride = ${NORM_THREADS / 2}; stride > 0; stride >>= 1) {
          if (t < stride) { partial[t] += partial[t + stride]; }
          workgroupBarrier();
        }
        let ${name} = partial[0];
        workgroupBarrier();`;
}

/**
 * WGSL of a kernel with one workgroup per row of D columns: `body` sees `row`, `t` (the thread),
 * `base` and `live` (false in the last workgroups past the rows, which must not return early: WGSL
 * wants barriers in uniform control flow, and tfjs hands the workgroup id over in a private variable).
 */
function rowKernel(D: number, body: string): string {
  return `
      var<workgroup> partial : array<f32, ${NORM_THREADS}>;
      fn main() {
        let row = i32(workgroupId.y * numWorkgroups.x + workgroupId.x);
        let live = row < uniforms.rows;
        let t = i32(localId.x);
        let base = row * ${D};
        ${body}
      }`;
}

/** A program with one workgroup per row of `rows` (spread over x and y past the 65,535 limit). */
function rowProgram(key: string, variableNames: string[], rows: number, D: number, source: string): { program: object; uniforms: number[] } {
  const x = Math.min(rows, 32768);
  return {
    program: {
      variableNames,
      outputShape: [rows, D],
      shaderKey: key,
      // not flat: tfjs then calls main() without a global index
      dispatchLayout: { x: [1], y: [0] },
      dispatch: [x, Math.ceil(rows / x), 1],
      workgroupSize: [NORM_THREADS, 1, 1],
      uniforms: 'rows : i32,',
      getUserCode: () => source,
    },
    uniforms: [rows],
  };
}

const NORM = 'MoeRmsNorm';
const NORM_GRAD = 'MoeRmsNormGrad';

function registerNorm(): void {
  // y = w · (x · rsqrt(mean(x²) + eps)), HF's order; without w, the normalised x
  registerProgram(NORM, ['x', 'w'], (inputs, attrs) => {
    const [rows, D] = inputs['x']!.shape as [number, number];
    const eps = wgslFloat(attrs['eps'] as number);
    const weighted = 'w' in inputs;
    const value = weighted ? 'f32(W[j]) * (f32(X[base + j]) * r)' : 'f32(X[base + j]) * r';
    const source = rowKernel(
      D,
      `${rowSum('squares', D, 'f32(X[base + j]) * f32(X[base + j])')}
        let r = inverseSqrt(squares / ${wgslFloat(D)} + ${eps});
        for (var j = t; live && j < ${D}; j += ${NORM_THREADS}) { result[base + j] = ${value}; }`,
    );
    return rowProgram(`moe_rms_norm_${D}_${eps}_${weighted ? 'w' : ''}`, weighted ? ['X', 'W'] : ['X'], rows, D, source);
  });
  // dx = r · (g − n · mean(g · n)) with n = x · r and g = w · dy: two row reductions
  registerProgram(NORM_GRAD, ['x', 'w', 'dy'], (inputs, attrs) => {
    const [rows, D] = inputs['x']!.shape as [number, number];
    const eps = wgslFloat(attrs['eps'] as number);
    const source = rowKernel(
      D,
      `${rowSum('squares', D, 'f32(X[base + j]) * f32(X[base + j])')}
        let r = inverseSqrt(squares / ${wgslFloat(D)} + ${eps});
        ${rowSum('gn', D, '(f32(W[j]) * f32(DY[base + j])) * (f32(X[base + j]) * r)')}
        let dot = gn / ${wgslFloat(D)};
        for (var j = t; live && j < ${D}; j += ${NORM_THREADS}) { result[base + j] = r * (f32(W[j]) * f32(DY[base + j]) - (f32(X[base + j]) * r) * dot); }`,
    );
    return rowProgram(`moe_rms_norm_grad_${D}_${eps}`, ['X', 'W', 'DY'], rows, D, source);
  });
}

/** w · x / sqrt(mean(x²) + eps) over the last axis of x (w [D], or none: the normalised x), forward only. */
export function rmsNormRows(x: tf.Tensor, w: tf.Tensor | null, eps: number): tf.Tensor {
  registerNorm();
  const D = x.shape[x.rank - 1]!;
  const rows = tf.reshape(x, [-1, D]);
  const y = runProgram(NORM, w === null ? { x: rows } : { x: rows, w }, { eps });
  return tf.reshape(y, x.shape);
}

/** The input gradient of rmsNormRows(x, w, eps) for the output gradient dy. */
export function rmsNormInputGrad(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor, eps: number): tf.Tensor {
  registerNorm();
  const D = x.shape[x.rank - 1]!;
  const dx = runProgram(NORM_GRAD, { x: tf.reshape(x, [-1, D]), w, dy: tf.reshape(dy, [-1, D]) }, { eps });
  return tf.reshape(dx, x.shape);
}

// ---- rotary embedding: one thread per element ----

const ROTARY = 'MoeRotary';

/**
 * y = x ⊙ cos + (x · rot) ⊙ sin without the matmul: rot pairs channel a with b (halves: b = a + d/2;
 * interleaved: b = a + 1, a even) and (x · rot)[a] = −x[b], (x · rot)[b] = x[a]. `transposed` applies
 * the gradient's map instead, dx = dy ⊙ cos − (dy ⊙ sin) · rot. The tables are [T, d] (one row of
 * positions for the batch) or [B, 1, T, d] (a row of positions per batch row, decoding).
 */
function rotarySource(d: number, interleaved: boolean, transposed: boolean, perRow: boolean): string {
  const partner = interleaved ? 'select(j - 1, j + 1, j % 2 == 0)' : `select(j - ${d / 2}, j + ${d / 2}, j < ${d / 2})`;
  const first = interleaved ? 'j % 2 == 0' : `j < ${d / 2}`;
  // the table row: position t of batch row b (per-row tables) or of the batch
  const tableRow = perRow ? 'c.x * uniforms.outShape.z + c.z' : 'c.z';
  // forward: y[a] = x[a]·c[a] − x[b]·s[a], y[b] = x[b]·c[b] + x[a]·s[b];
  // transposed: dx[a] = dy[a]·c[a] + dy[b]·s[b], dx[b] = dy[b]·c[b] − dy[a]·s[a]
  const sinAt = transposed ? 'p' : 'j';
  const sign = transposed ? `select(-1.0, 1.0, ${first})` : `select(1.0, -1.0, ${first})`;
  return `
        let c = getCoordsFromIndex(index);
        let j = c.w;
        let p = ${partner};
        let row = (${tableRow}) * ${d};
        let rowStart = index - j;
        result[index] = f32(X[index]) * f32(C[row + j]) + ${sign} * (f32(X[rowStart + p]) * f32(S[row + ${sinAt}]));`;
}

function registerRotary(): void {
  registerProgram(ROTARY, ['x', 'cos', 'sin'], (inputs, attrs) => {
    const shape = inputs['x']!.shape as [number, number, number, number];
    const d = shape[3];
    const interleaved = attrs['interleaved'] === true;
    const transposed = attrs['transposed'] === true;
    const perRow = inputs['cos']!.shape.length === 4;
    const key = `moe_rotary_${d}_${interleaved ? 'i' : 'h'}_${transposed ? 't' : ''}_${perRow ? 'r' : ''}`;
    return { program: flatProgram(key, shape, ['X', 'C', 'S'], rotarySource(d, interleaved, transposed, perRow)) };
  });
}

/**
 * The rotary map of x [..., T, d] (rank ≥ 2) with tables cos/sin [T, d] or [B, 1, T, d]; forward
 * (`transposed` false) or its gradient's map. The partner layout must match the tables' (`interleaved`).
 */
export function rotaryMap(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, interleaved: boolean, transposed: boolean): tf.Tensor {
  registerRotary();
  const [T, d] = x.shape.slice(-2) as [number, number];
  const perRow = cos.rank === 4;
  // [B, H, T, d]: with per-row tables the leading axis is the batch row, else everything folds into H
  const lead = x.size / (T * d);
  const B = perRow ? cos.shape[0]! : 1;
  const y = runProgram(ROTARY, { x: tf.reshape(x, [B, lead / B, T, d]), cos, sin }, { interleaved, transposed });
  return tf.reshape(y, x.shape);
}

// ---- SwiGLU's gate: silu(g) · u ----

const SILU_MUL = 'MoeSiluMul';
const SILU_MUL_GRAD = 'MoeSiluMulGrad';

function registerSiluMul(): void {
  // silu(g)·u = (g·σ(g))·u, σ as tfjs's Sigmoid computes it
  registerProgram(SILU_MUL, ['g', 'u'], (inputs) => ({
    program: flatProgram('moe_silu_mul', inputs['g']!.shape, ['G', 'U'], 'let g = f32(G[index]); result[index] = (g * (1.0 / (1.0 + exp(-g)))) * f32(U[index]);'),
  }));
  // d/dg = dy · u · σ(g) · (1 + g · (1 − σ(g))); d/du = dy · silu(g)
  registerProgram(SILU_MUL_GRAD, ['g', 'u', 'dy'], (inputs, attrs) => {
    const wrtG = attrs['wrt'] === 'g';
    const value = wrtG ? 'f32(DY[index]) * f32(U[index]) * (s * (1.0 + g * (1.0 - s)))' : 'f32(DY[index]) * (g * s)';
    // every declared input must be read: the shader's bind group layout leaves an unused one out
    const names = wrtG ? ['G', 'U', 'DY'] : ['G', 'DY'];
    return {
      program: flatProgram(`moe_silu_mul_grad_${wrtG ? 'g' : 'u'}`, inputs['g']!.shape, names, `let g = f32(G[index]); let s = 1.0 / (1.0 + exp(-g)); result[index] = ${value};`),
    };
  });
}

/** silu(g) · u elementwise, with its gradient (g and u of one shape). */
export function siluMul(g: tf.Tensor, u: tf.Tensor): tf.Tensor {
  registerSiluMul();
  const fused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [gg, uu, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([gg, uu]);
    return {
      value: runProgram(SILU_MUL, { g: gg, u: uu }, {}),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [gs, us] = saved as [tf.Tensor, tf.Tensor];
        return [runProgram(SILU_MUL_GRAD, { g: gs, u: us, dy }, { wrt: 'g' }), runProgram(SILU_MUL_GRAD, { g: gs, dy }, { wrt: 'u' })];
      },
    };
  });
  return fused(g, u);
}
