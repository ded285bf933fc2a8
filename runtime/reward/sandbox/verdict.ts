/**
 * The parent's side of the protocol: it accepts a report only in the exact shape the sandbox sends
 * (with this job's nonce, one entry per test run), and alone turns it into a score. A test passes
 * when it evaluated to `true`, or to `undefined` when its own source (the dataset's text, never the
 * program's) calls `assert`: statements that ran their asserts without a throw. `undefined` from an
 * expression is not a pass (`function isPrime(n) {}` must not pass `isPrime(7)`).
 */
import { callsAssert } from './program.js';
import type { JobResult, Report, TestReport } from './protocol.js';

/** How much text a report may carry per field (the sandbox cuts descriptions at 300 characters). */
const MAX_TEXT = 400;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const hasOnlyKeys = (v: Record<string, unknown>, allowed: readonly string[]): boolean => Object.keys(v).every((k) => allowed.includes(k));

const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_TEXT;

function readTest(v: unknown): TestReport | undefined {
  if (!isRecord(v) || !hasOnlyKeys(v, ['outcome', 'detail'])) return undefined;
  const { outcome, detail } = v;
  if ((outcome !== 'true' && outcome !== 'undefined' && outcome !== 'failed') || !isText(detail)) return undefined;
  return { outcome, detail };
}

/** The report in `message`, or why it is not one this job accepts. */
export function readReport(message: unknown, nonce: string, total: number): Report | string {
  if (!isRecord(message) || message['kind'] !== 'report') return 'a message that is not a report';
  if (message['nonce'] !== nonce) return "a report without this job's nonce";
  if (!hasOnlyKeys(message, ['kind', 'nonce', 'tests', 'load', 'limit'])) return 'a report with unknown fields';
  const { tests, load, limit } = message;
  if ((load !== undefined && !isText(load)) || (limit !== undefined && !isText(limit))) return 'a report with a malformed field';
  if (!Array.isArray(tests) || tests.length > total || (limit === undefined && tests.length !== total)) {
    return `a report of ${Array.isArray(tests) ? tests.length : 'no'} tests for ${total}`;
  }
  const read = tests.map(readTest);
  if (read.some((t) => t === undefined)) return 'a report with a malformed test';
  return { kind: 'report', nonce, tests: read as TestReport[], ...(load === undefined ? {} : { load }), ...(limit === undefined ? {} : { limit }) };
}

/** The score of a well-formed report for `tests`. */
export function verdict(report: Report, tests: readonly string[]): JobResult {
  let passed = 0;
  let failure = report.load === undefined ? undefined : `the program threw ${report.load}`;
  tests.forEach((source, i) => {
    const test = report.tests[i];
    if (test === undefined) return; // not run: the time limit stopped the run first
    if (test.outcome === 'true' || (test.outcome === 'undefined' && callsAssert(source))) passed++;
    else if (test.outcome === 'undefined') failure ??= `test ${i + 1} gave undefined, not true (a test of statements must call assert)`;
    else failure ??= `test ${i + 1} ${test.detail}`;
  });
  const total = tests.length;
  if (report.limit !== undefined) return { passed, total, failure: report.limit, severe: true };
  if (failure === undefined) return { passed, total };
  return { passed, total, failure, severe: report.load !== undefined };
}
