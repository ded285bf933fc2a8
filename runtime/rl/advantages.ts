/**
 * Group-relative advantages (DeepSeekMath §4.1.2): each completion's reward minus the mean reward of
 * the completions sampled for the same prompt, divided by a standard deviation chosen by `scale`:
 *
 *   group   A_i = (r_i − mean_g) / (std_g + ε)     GRPO; std over the group, n − 1 in the denominator
 *   batch   A_i = (r_i − mean_g) / (std_B + ε)     std over the whole rollout batch (less noisy per group)
 *   none    A_i =  r_i − mean_g                     Dr. GRPO: no division, no difficulty bias
 *
 * ε = 1e-4 keeps a group whose completions all scored the same at A = 0 instead of 0/0.
 */
export type AdvantageScale = 'group' | 'batch' | 'none';

const EPS = 1e-4;

/** The mean; 0 for no values. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1), 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** rewards are grouped: the `group` completions of prompt p are at p·group … p·group + group − 1. */
export function advantages(rewards: readonly number[], group: number, scale: AdvantageScale): number[] {
  if (rewards.length % group !== 0) throw new Error(`${rewards.length} rewards do not split into groups of ${group}`);
  const batchStd = std(rewards);
  const out: number[] = [];
  for (let start = 0; start < rewards.length; start += group) {
    const members = rewards.slice(start, start + group);
    const m = mean(members);
    const divisor = scale === 'group' ? std(members) + EPS : scale === 'batch' ? batchStd + EPS : 1;
    for (const r of members) out.push((r - m) / divisor);
  }
  return out;
}
