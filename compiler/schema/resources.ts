/** `cluster`, `data`, `tokenizer` and `reward` blocks. */
import { block, bool, empty, int, num, oneOf, qty, quantity, ref, str, variant } from './dsl.js';
import { MAX_NGRAM, MAX_OPERAND, MAX_RANKS, MAX_SAMPLES, MAX_SANDBOX_BYTES, MAX_TIMEOUT_SECONDS, MAX_TOKENS, MAX_VOCAB } from './limits.js';

export const clusterSpec = block(
  {
    devices: int('accelerators in the cluster', { min: 1, max: MAX_RANKS }),
    memory: qty(['bytes'], 'memory per device, e.g. `80GiB`', { min: 0, exclusiveMin: true }),
    peak: qty(['flops'], 'peak dense FLOP/s per device at the training precision, e.g. `989 TFLOPs`', {
      min: 0,
      exclusiveMin: true,
      optional: true,
    }),
  },
  'the hardware a parallel plan is checked against',
);

export const dataSpec = block(
  {
    source: str('file or glob relative to the spec (text, JSONL or Parquet)', { path: true, optional: true }),
    synthetic: variant(
      {
        arithmetic: block(
          {
            samples: int('problems to generate (all are held in memory)', { min: 1, max: MAX_SAMPLES, default: 10000 }),
            max_operand: int('largest operand', { min: 1, max: MAX_OPERAND, default: 100 }),
            style: oneOf(['r1', 'plain'], 'r1: `<think>…</think><answer>…</answer>` completions; plain: the answer only', {
              default: 'r1',
            }),
            seed: int('generator seed', { min: 0, default: 0 }),
          },
          'arithmetic word problems with answers, generated on the fly',
        ),
        none: empty('no generator: read `source`'),
      },
      'a built-in generator instead of a file (needs no download)',
      { default: 'none' },
    ),
    format: oneOf(['text', 'jsonl', 'parquet'], 'how the source is read; by default from the extension (.parquet; .jsonl, .ndjson, .json; else text)', {
      optional: true,
    }),
    prompt: str('JSONL/Parquet field holding the prompt', { default: 'prompt' }),
    completion: str('JSONL/Parquet field holding the completion (SFT)', { default: 'completion' }),
    answer: str('JSONL/Parquet field holding the reference answer (rewards)', { default: 'answer' }),
    text: str('JSONL/Parquet field holding a whole document, read when a row has no prompt or completion (pretraining)', { default: 'text' }),
    messages: str('JSONL/Parquet field holding a chat (`[{role, content}]`), rendered with the chat template; SFT learns the assistant turns', {
      default: 'messages',
    }),
    split: block(
      { valid: num('share held out for validation, e.g. `2%`', { min: 0, max: 0.5, default: 0.01 }) },
      'train/validation split',
      { optional: true },
    ),
  },
  'a corpus or a prompt set',
);

export const tokenizerSpec = block(
  {
    kind: oneOf(['byte', 'bpe', 'hf'], 'byte: 256 byte ids + specials; bpe: trained on `train_on`; hf: a tokenizer.json'),
    vocab: int('vocabulary size for `bpe`', { min: 260, max: MAX_VOCAB, optional: true }),
    train_on: ref(['data'], 'corpus a `bpe` tokenizer is trained on', { optional: true }),
    file: str('tokenizer.json for `hf`', { path: true, optional: true }),
  },
  'how text becomes token ids',
);

const sampleField = str('sample field', { default: 'answer' });

export const rewardRules = {
  answer: block(
    {
      extract: str('regular expression whose first group is the answer, or `boxed` for \\boxed{}', {
        regex: true,
        default: '<answer>([\\s\\S]*?)</answer>',
      }),
      compare: oneOf(['exact', 'numeric', 'choice'], 'how the extracted answer is compared', { default: 'exact' }),
      tolerance: num('absolute tolerance for `numeric`', { min: 0, default: 1e-6 }),
      field: sampleField,
    },
    'accuracy: 1 when the extracted answer matches the sample\'s answer',
  ),
  regex: block({ pattern: str('regular expression the whole completion must match', { regex: true }) }, 'format: 1 on a match'),
  language_consistency: block(
    { target: str('language or script of the chain of thought, e.g. `en`, `zh`', { word: true, default: 'en' }) },
    'share of the chain of thought written in the target language',
  ),
  length: block(
    {
      target: qty(['tokens'], 'length that scores 1', { integer: true, min: 1, max: { tokens: MAX_TOKENS } }),
      max: qty(['tokens'], 'length that scores 0 (overlong penalty in between)', { integer: true, min: 1, max: { tokens: MAX_TOKENS } }),
    },
    'rewards completions near the target length',
  ),
  repetition: block(
    {
      n: int('n-gram size', { min: 1, max: MAX_NGRAM, default: 3 }),
    },
    '1 minus the share of repeated n-grams',
  ),
  tests: block(
    {
      language: oneOf(['js'], 'language the completion is run as', { default: 'js' }),
      tests_field: str('sample field holding the tests', { default: 'tests' }),
      timeout: qty(['seconds'], 'time limit per run; at most 1 h (Node\'s timers overflow past 24.8 days)', {
        min: 0,
        exclusiveMin: true,
        max: { seconds: MAX_TIMEOUT_SECONDS },
        default: quantity(2, 'seconds'),
      }),
      memory: qty(['bytes'], 'memory limit per run; at most 16 GiB', {
        min: 0,
        exclusiveMin: true,
        max: { bytes: MAX_SANDBOX_BYTES },
        default: quantity(64 * 2 ** 20, 'bytes'),
      }),
    },
    'share of the sample\'s tests the completion passes, run in a sandbox',
  ),
  custom: block({ function: str('`file.ts#name`, relative to the spec') }, 'a TypeScript function'),
};

export const rewardSpec = block(
  {
    normalize: bool('divide by the sum of weights instead of requiring it to be 1', { default: false }),
  },
  'a weighted sum of rule-based rewards, each in [0, 1]',
  { rules: rewardRules },
);
