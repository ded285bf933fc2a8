/**
 * The shapes every reward rule shares. A rule scores a whole batch at once (GRPO scores a group of
 * completions for every prompt in one call), and reports each item as an outcome: the value the rule
 * produced and, when it could not score the item properly, why. `score.ts` turns outcomes into
 * clamped scores and logged problems, so a rule never needs to clamp or catch for its neighbours.
 */

/** One completion to score, with the data sample its prompt came from. */
export interface RewardItem {
  readonly completion: string;
  /** the prompt's record: the rules read reference answers and tests from its fields */
  readonly sample: Readonly<Record<string, unknown>>;
  /** the completion's length in tokens (the `length` rule's unit) */
  readonly tokens: number;
}

export interface Outcome {
  /** what the rule returned; anything but a finite number in [0, 1] is a problem */
  readonly value: unknown;
  /** why the item scored 0 (a timeout, a crash, a missing field), when the rule knows */
  readonly problem?: string;
}

export interface RuleScorer {
  /** one outcome per item, in order; may reject only for the whole batch (then every item is a problem) */
  score(items: readonly RewardItem[]): Promise<readonly Outcome[]>;
  /** releases workers or other resources; the scorer is unusable afterwards */
  close(): Promise<void>;
}

/** A rule that scores each item on its own, synchronously (every rule but `tests` and `custom`). */
export type ItemScorer = (item: RewardItem) => number;

/** Lifts a per-item scorer to a batch scorer; a throw becomes that item's problem. */
export function perItem(scoreOne: ItemScorer): RuleScorer {
  return {
    score: (items) =>
      Promise.resolve(
        items.map((item): Outcome => {
          try {
            return { value: scoreOne(item) };
          } catch (e) {
            return { value: 0, problem: e instanceof Error ? e.message : String(e) };
          }
        }),
      ),
    close: () => Promise.resolve(),
  };
}
