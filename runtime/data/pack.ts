/**
 * Token ids → the graph's inputs `{input_ids: i32[B, T], loss_mask: f32[B, T]}` (specs/ir.md §1.7).
 *
 * The mask marks TARGET tokens: `loss.cross_entropy` weights the prediction of `input_ids[t + shift]`
 * by `loss_mask[t + shift]` (§4.14), so `mask[t] = 1` means "learn to produce token t", not "learn
 * from position t". For SFT that is every completion token and the `<eos>` after it, and never a
 * prompt token or `<pad>`.
 */
import type { OrderState, SampleOrder } from './order.js';

export interface Batch {
  readonly batch: number;
  readonly seqLen: number;
  /** row-major [batch, seqLen] */
  readonly inputIds: Int32Array;
  /** row-major [batch, seqLen]; 1 where the token is a target the loss counts */
  readonly lossMask: Float32Array;
}

/** Where a pretraining stream stands: the order before the document being cut, and how far into it. */
export interface PackState {
  readonly order: OrderState;
  readonly offset: number;
}

/**
 * Pretraining: documents (in the order's sequence) joined with `<eos>` after each one, cut into
 * back-to-back windows of `seqLen` tokens. Every token is a target (mask 1): nothing is padded,
 * and a window may start mid-document, as in GPT-style packing.
 */
export class PackedStream {
  private current: readonly number[] | undefined;
  private currentStart: OrderState;
  private offset = 0;

  constructor(
    private readonly order: SampleOrder,
    private readonly tokens: (index: number) => readonly number[],
    private readonly eos: number,
  ) {
    this.currentStart = order.state();
  }

  nextBatch(batch: number, seqLen: number): Batch {
    const inputIds = new Int32Array(batch * seqLen);
    for (let i = 0; i < inputIds.length; ) {
      if (!this.current || this.offset >= this.current.length) this.load();
      const take = Math.min(inputIds.length - i, this.current!.length - this.offset);
      for (let k = 0; k < take; k++) inputIds[i + k] = this.current![this.offset + k]!;
      i += take;
      this.offset += take;
    }
    return { batch, seqLen, inputIds, lossMask: new Float32Array(batch * seqLen).fill(1) };
  }

  state(): PackState {
    if (this.current && this.offset < this.current.length) return { order: this.currentStart, offset: this.offset };
    return { order: this.order.state(), offset: 0 };
  }

  restore(state: PackState): void {
    this.order.restore(state.order);
    this.current = undefined;
    this.offset = 0;
    this.currentStart = state.order;
    if (state.offset > 0) {
      this.load();
      this.offset = state.offset;
    }
  }

  private load(): void {
    this.currentStart = this.order.state();
    this.current = [...this.tokens(this.order.next()), this.eos];
    this.offset = 0;
  }
}

export interface SftSpecials {
  readonly eos: number;
  readonly pad: number;
}

/** A tokenized piece of an SFT row; `target` pieces are learnt (the completion, a chat's assistant turns). */
export interface TokenPart {
  readonly ids: readonly number[];
  readonly target: boolean;
}

/**
 * One SFT row: its parts in order ++ `<eos>` (a target), cut to `seqLen` (the tail goes, so an
 * overlong prompt leaves no target and the row counts nothing) or padded with `<pad>` at mask 0.
 */
export function sftPartsRow(parts: readonly TokenPart[], seqLen: number, specials: SftSpecials): { ids: Int32Array; mask: Float32Array } {
  const ids = new Int32Array(seqLen).fill(specials.pad);
  const mask = new Float32Array(seqLen);
  let t = 0;
  for (const part of [...parts, { ids: [specials.eos], target: true }]) {
    for (const id of part.ids) {
      if (t >= seqLen) return { ids, mask };
      ids[t] = id;
      mask[t++] = part.target ? 1 : 0;
    }
  }
  return { ids, mask };
}

/** The prompt/completion row: the prompt as context, the completion (and `<eos>`) as targets. */
export function sftRow(prompt: readonly number[], completion: readonly number[], seqLen: number, specials: SftSpecials): { ids: Int32Array; mask: Float32Array } {
  return sftPartsRow(
    [
      { ids: prompt, target: false },
      { ids: completion, target: true },
    ],
    seqLen,
    specials,
  );
}

/** Target tokens an SFT row keeps within `seqLen` (0: the row trains on nothing). */
export function sftTargets(parts: readonly TokenPart[], seqLen: number): number {
  let t = 0;
  let targets = 0;
  for (const part of [...parts, { ids: [0], target: true }]) {
    const take = Math.min(part.ids.length, seqLen - t);
    if (part.target) targets += take;
    t += take;
    if (t >= seqLen) break;
  }
  return targets;
}

/** SFT: one record per row, in the order's sequence; its state is the order's. */
export class SftStream {
  constructor(
    private readonly order: SampleOrder,
    private readonly parts: (index: number) => readonly TokenPart[],
    private readonly specials: SftSpecials,
  ) {}

  nextBatch(batch: number, seqLen: number): Batch {
    const inputIds = new Int32Array(batch * seqLen);
    const lossMask = new Float32Array(batch * seqLen);
    for (let b = 0; b < batch; b++) {
      const row = sftPartsRow(this.parts(this.order.next()), seqLen, this.specials);
      inputIds.set(row.ids, b * seqLen);
      lossMask.set(row.mask, b * seqLen);
    }
    return { batch, seqLen, inputIds, lossMask };
  }

  state(): PackState {
    return { order: this.order.state(), offset: 0 };
  }

  restore(state: PackState): void {
    this.order.restore(state.order);
  }
}
