/**
 * The grouped layout of dropless `moe.experts` on GPU backends: the routed assignments sorted by
 * expert into tiles of T rows, every shape static and no value read back to the host, so a captured
 * step graph (runtime/backend/webgpu-graph.ts) replays it for any routing.
 *
 * Expert e, with load L_e assignments, owns ceil(L_e / T) consecutive tiles starting at tile
 * tileStart[e] = Σ_{e' < e} ceil(L_e' / T); its assignments fill the first L_e rows of them in
 * token order, and the rest of each tile is zero rows. For every routing
 *
 *   Σ_e ceil(L_e / T) ≤ Σ_e (L_e + T − 1) / T = (A + E·(T − 1)) / T,
 *
 * so nt = floor((A + E·(T − 1)) / T) tiles always suffice (A = N·K assignments): R = nt·T rows
 * against E·N for the static bound. Tiles past the last expert's are zero rows.
 *
 * The SwiGLU then runs as three batched matmuls over tiles, each tile multiplied by its expert's
 * weights (`groupedMatMul`: on webgpu a tiled GEMM that reads the stacked weights in place;
 * elsewhere the weights copied per tile, `expertTiles`, whose gradient sums an expert's tiles).
 * Unused tiles use the last expert's weights, multiply zero rows and add nothing to any gradient.
 */
import { tf } from '../tf.js';
import { fusedOp } from '../backend/registry.js';

/**
 * Rows per tile for A assignments over E experts: a power of two in [16, 256] near A / (4E), so the
 * padding E·(T − 1) stays near a quarter of the routed rows while the per-tile weight copies
 * (nt ≈ 5E of them) stay few.
 */
export function tileRows(assignments: number, experts: number): number {
  let T = 16;
  while (T < 256 && 2 * T <= assignments / (4 * experts)) T *= 2;
  return T;
}

/** nt: how many tiles of T rows the grouped layout needs for any routing of A assignments. */
export function tileCount(assignments: number, experts: number, T: number): number {
  return Math.floor((assignments + experts * (T - 1)) / T);
}

export interface TileLayout {
  /** rows per tile */
  readonly T: number;
  /** tiles */
  readonly tiles: number;
  /** [A] int32: the row of each assignment */
  readonly slot: tf.Tensor1D;
  /** [nt] int32: the expert whose weights each tile uses */
  readonly tileExpert: tf.Tensor1D;
  /** [E] int32: how many tiles each expert owns */
  readonly tilesOf: tf.Tensor1D;
  /** [E] int32: each expert's first row and row count (tileStart·T, tilesOf·T) */
  readonly rowStart: tf.Tensor1D;
  readonly rowCount: tf.Tensor1D;
}

/**
 * The grouped layout from each assignment's expert `expertOf` [A], its rank among the earlier
 * assignments to that expert `pos` [A] and the loads [E] (all int32, off the gradient tape).
 */
export function tileLayout(expertOf: tf.Tensor1D, pos: tf.Tensor1D, load: tf.Tensor1D, T: number): TileLayout {
  const A = expertOf.shape[0];
  const E = load.shape[0];
  const tiles = tileCount(A, E, T);
  return tf.tidy(() => {
    const tilesOf = tf.floorDiv(tf.add(load, tf.scalar(T - 1, 'int32')), tf.scalar(T, 'int32')) as tf.Tensor1D;
    const tileStart = tf.cumsum(tilesOf, 0, true) as tf.Tensor1D;
    const slot = tf.add(tf.mul(tf.gather(tileStart, expertOf), tf.scalar(T, 'int32')), pos) as tf.Tensor1D;
    // tile t belongs to the first expert whose tiles end after t: the count of experts ending at or before it
    const tileEnd = tf.reshape(tf.add(tileStart, tilesOf), [1, E]);
    const ended = tf.cast(tf.lessEqual(tileEnd, tf.reshape(tf.range(0, tiles, 1, 'int32'), [tiles, 1])), 'int32');
    const tileExpert = tf.minimum(tf.sum(ended, 1), tf.scalar(E - 1, 'int32')) as tf.Tensor1D;
    const rows = (t: tf.Tensor1D): tf.Tensor1D => tf.mul(t, tf.scalar(T, 'int32'));
    return { T, tiles, slot, tileExpert, tilesOf, rowStart: rows(tileStart), rowCount: rows(tilesOf) };
  });
}

/**
 * w [E, ...] → [nt, ...]: tile t gets w[tileExpert[t]]. The gradient of expert e is the sum of its
 * own tiles' gradients (tiles past the last expert's, which also read w[E − 1], are not its own).
 */
export function expertTiles(w: tf.Tensor, layout: TileLayout): tf.Tensor {
  const E = w.shape[0]!;
  const rest = w.shape.slice(1);
  const gather = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [weights, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([layout.tileExpert, layout.tilesOf]);
    return {
      value: tf.gather(weights, layout.tileExpert),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [tileExpert, tilesOf] = saved as [tf.Tensor1D, tf.Tensor1D];
        const flat = tf.reshape(dy, [layout.tiles, -1]) as tf.Tensor2D;
        return tf.reshape(tileSum(flat, tileExpert, tilesOf, E), [E, ...rest]);
      },
    };
  });
  return gather(w);
}

/**
 * g [nt, M] → [E, M]: row e is the sum of the tiles expert e owns (tileExpert[t] = e, t below the
 * tiles in use), as a one-hot matmul (the webgpu path never copies weights per tile: groupedMatMul).
 */
export function tileSum(g: tf.Tensor2D, tileExpert: tf.Tensor1D, tilesOf: tf.Tensor1D, E: number): tf.Tensor2D {
  return tf.tidy(() => {
    // owner[t] = the expert tile t belongs to, or −1 (a zero one-hot row) for a tile past the last expert's
    const used = tf.less(tf.range(0, g.shape[0], 1, 'int32'), tf.sum(tilesOf));
    const owner = tf.where(used, tileExpert, tf.fill(tileExpert.shape, -1, 'int32')) as tf.Tensor1D;
    // int32 then cast: tfjs-backend-wasm's float32 oneHot writes integer bit patterns
    return tf.matMul(tf.cast(tf.oneHot(owner, E), 'float32') as tf.Tensor2D, g, true, false);
  });
}

/**
 * x [nt, T, In] times each tile's expert weights transposed, w [E, Out, In] → [nt, T, Out]. A fused
 * op: generically the weights are copied per tile (expertTiles) and multiplied by tf.matMul; on
 * webgpu three tiled GEMMs read the weights in place (backend/webgpu-ops.ts).
 */
export const groupedMatMul = fusedOp('moe.grouped.product', (x: tf.Tensor, w: tf.Tensor, layout: TileLayout): tf.Tensor =>
  tf.matMul(x as tf.Tensor3D, expertTiles(w, layout) as tf.Tensor3D, false, true),
);
