/**
 * Coded errors and warnings about the data a run reads. Their codes live in the one diagnostics
 * catalog (MOE71xx), so `moe explain CODE` explains them like the checker's; the message carries the
 * code because the CLI prints a RuntimeError's message as is.
 */
import { formatMessage, type Code, type MessageArgs } from '../../compiler/diagnostics/catalog.js';
import { RuntimeError } from '../errors.js';

export class DataError extends RuntimeError {
  constructor(
    readonly code: Code,
    message: string,
    help?: string,
  ) {
    super(`${code}: ${message}`, help ?? `\`moe explain ${code}\` says more`);
    this.name = 'DataError';
  }
}

export function dataError<C extends Code>(code: C, args: MessageArgs<C>, help?: string): DataError {
  return new DataError(code, formatMessage(code, args), help);
}

/** Where data warnings go: the run's log; stderr when the caller gives none. */
export type Warn = (line: string) => void;

export const stderrWarn: Warn = (line) => process.stderr.write(`${line}\n`);

export function dataWarning<C extends Code>(code: C, args: MessageArgs<C>): string {
  return `warning: ${code}: ${formatMessage(code, args)}`;
}
