/**
 * Built-in generators, so examples and tests need no download. `arithmetic`: problems like
 * `What is 12+30?` with `+`, `-` and `*` (ASCII, so a byte tokenizer spends one id per symbol and a
 * user can type the prompt), differences never negative, products of small operands (at most 12)
 * so the answers stay learnable by a tiny model.
 */
import { mulberry32, tensorSeed } from '../random.js';
import type { DataRecord } from './record.js';

export interface ArithmeticOptions {
  readonly samples: number;
  readonly max_operand: number;
  readonly style: 'r1' | 'plain';
  readonly seed: number;
}

export const MAX_FACTOR = 12;

export function arithmetic(options: ArithmeticOptions): DataRecord[] {
  const uniform = mulberry32(tensorSeed(options.seed, 'synthetic.arithmetic'));
  const int = (lo: number, hi: number): number => lo + Math.floor(uniform() * (hi - lo + 1));
  const out: DataRecord[] = [];
  for (let i = 0; i < options.samples; i++) {
    const op = (['+', '-', '*'] as const)[int(0, 2)]!;
    const hi = op === '*' ? Math.min(options.max_operand, MAX_FACTOR) : options.max_operand;
    let a = int(0, hi);
    let b = int(0, hi);
    if (op === '-' && b > a) [a, b] = [b, a];
    const value = op === '+' ? a + b : op === '-' ? a - b : a * b;
    const expr = `${a}${op}${b}`;
    const answer = String(value);
    const completion = options.style === 'r1' ? `<think>${expr} = ${answer}</think><answer>${answer}</answer>` : answer;
    out.push({ prompt: `What is ${expr}?`, completion, answer, where: `arithmetic #${i}` });
  }
  return out;
}
