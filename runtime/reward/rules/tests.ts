/**
 * `tests`: the share of the sample's tests the completion passes, run as JavaScript in the sandbox
 * (sandbox/program.ts says what runs, sandbox/worker-main.ts what the program can reach). Time and
 * memory limits come from the rule (`timeout` in seconds, `memory` in bytes) and bound one run:
 * the program and all its tests. A run that hits a limit or throws while loading is logged as a
 * problem even when some tests passed; otherwise a score of 0 is logged with the first failure.
 */
import { availableParallelism } from 'node:os';
import { RuntimeError } from '../../errors.js';
import { readNumber, readString, sampleField, type RuleAttrs } from '../attrs.js';
import { programOf, testsOf } from '../sandbox/program.js';
import { SandboxPool } from '../sandbox/pool.js';
import type { Outcome, RuleScorer } from '../types.js';

export interface TestsOptions {
  /** programs run at once (default: the machine's cores minus one, at least 1) */
  readonly parallelism?: number;
}

export function testsRule(attrs: RuleAttrs, options: TestsOptions = {}): RuleScorer {
  const language = readString(attrs, 'language');
  if (language !== 'js') throw new RuntimeError(`tests: cannot run language \`${language}\``, 'use `language = js`');
  const field = readString(attrs, 'tests_field');
  const pool = new SandboxPool(
    { timeoutMs: readNumber(attrs, 'timeout') * 1000, memoryBytes: readNumber(attrs, 'memory') },
    options.parallelism ?? Math.max(1, availableParallelism() - 1),
  );
  const one = async (completion: string, sample: Readonly<Record<string, unknown>>): Promise<Outcome> => {
    let tests: string[];
    try {
      tests = testsOf(sampleField(sample, field), field);
    } catch (e) {
      return { value: 0, problem: (e as Error).message };
    }
    const result = await pool.run(programOf(completion), tests);
    const value = result.passed / result.total;
    const logged = result.failure !== undefined && (result.severe === true || value === 0);
    return logged ? { value, problem: result.failure } : { value };
  };
  return {
    score: (items) => Promise.all(items.map((item) => one(item.completion, item.sample))),
    close: () => pool.close(),
  };
}
