/**
 * Coded errors and warnings about the data a run reads. The codes, their message templates and the
 * explanations `moe explain CODE` prints live in the one diagnostics catalog (MOE71xx); runtime/ may
 * not import the compiler, so the messages are written out here, and test/runtime/data/formats.test.ts
 * holds every one against its catalog template. The message carries the code because the CLI prints
 * a RuntimeError's message as is.
 */
import { RuntimeError } from '../errors.js';

export type DataCode = 'MOE7101' | 'MOE7102' | 'MOE7103' | 'MOE7104' | 'MOE7105' | 'MOE7106' | 'MOE7107';

export class DataError extends RuntimeError {
  constructor(
    readonly code: DataCode,
    message: string,
    help?: string,
  ) {
    super(`${code}: ${message}`, help ?? `\`moe explain ${code}\` says more`);
    this.name = 'DataError';
  }
}

export function dataError(code: DataCode, message: string, help?: string): DataError {
  return new DataError(code, message, help);
}

/** Where data warnings go: the run's log; stderr when the caller gives none. */
export type Warn = (line: string) => void;

export const stderrWarn: Warn = (line) => process.stderr.write(`${line}\n`);

export function dataWarning(code: DataCode, message: string): string {
  return `warning: ${code}: ${message}`;
}
