/**
 * Upper bounds of every number that sizes work. The checker reports a value above its bound
 * (MOE3004) before anything is built, so a typo such as `layers = 1000000000` is an error at its
 * span instead of an allocation that takes the process down. The bounds are generous (one to three
 * orders of magnitude above the largest published models and recipes) but finite; each is
 * printed in the Range column of docs/reference.md.
 */

/** layers, MTP modules: DeepSeek-V3 has 61 layers; every layer becomes nodes and parameters */
export const MAX_LAYERS = 10_000;
/** routed or shared experts, expert groups, attention heads: DeepSeek-V3 has 256 experts, 128 heads */
export const MAX_COUNT = 65_536;
/** widths (dim, hidden sizes, ranks, head sizes): DeepSeek-V3's widest is 18,432 */
export const MAX_WIDTH = 1_048_576;
/** vocabularies and sampling top_k: the largest published vocabularies hold about 256k ids */
export const MAX_VOCAB = 16_777_216;
/** context, sequence length, generated tokens, length targets: 2^24 tokens */
export const MAX_TOKENS = 16_777_216;
/** generated synthetic problems, all held in memory at once (10,000 by default) */
export const MAX_SAMPLES = 1_000_000;
/** completions per prompt (GRPO groups, rejection sampling), policy updates per rollout */
export const MAX_GROUP = 65_536;
/** devices, parallel ranks, micro-batches, evaluation batches, sequences or prompts per batch */
export const MAX_RANKS = 1_048_576;
/** training steps, warmup and intervals in steps */
export const MAX_STEPS = 1e12;
/** a token budget (DeepSeek-V3 trained on 14.8 trillion tokens) and a batch in tokens */
export const MAX_TRAIN_TOKENS = 1e16;
/** epochs over the data */
export const MAX_EPOCHS = 1e6;
/** the largest operand of generated arithmetic: sums stay exact doubles (products are capped apart) */
export const MAX_OPERAND = 1e12;
/** a sandboxed program's wall time, in seconds: Node's timers overflow above 2^31 − 1 ms (24.8 days) */
export const MAX_TIMEOUT_SECONDS = 3600;
/** a sandboxed program's memory, in bytes */
export const MAX_SANDBOX_BYTES = 16 * 2 ** 30;
/** n-gram size of the repetition reward */
export const MAX_NGRAM = 1024;
/** checkpoints kept */
export const MAX_KEEP = 10_000;
