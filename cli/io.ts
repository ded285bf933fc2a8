import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { INTERRUPT_EXIT } from '../runtime/run/interrupt.js';

/** Where the CLI writes: injected so tests run commands in-process and read what they printed. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  /** colour and live progress only on a terminal */
  readonly color: boolean;
}

export const processIo = (): CliIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  cwd: process.cwd(),
  color: Boolean(process.stderr.isTTY) && !process.env.NO_COLOR,
});

/**
 * Exit statuses, the same in every command: 0 clean (warnings allowed); 1 errors in what the named
 * files hold (a spec's diagnostics, bad data or checkpoint contents, a file moe will not overwrite);
 * 2 usage (an unknown flag or value, a file or folder named on the command line that does not exist,
 * a name the spec lacks) and internal errors; 130 training stopped by SIGINT/SIGTERM after writing a
 * checkpoint (the shell's convention for Ctrl-C).
 */
export const EXIT = { ok: 0, specErrors: 1, usage: 2, interrupted: INTERRUPT_EXIT } as const;

export class UsageError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
  }
}

/**
 * A path named on the command line, resolved against the working directory: one that does not
 * exist, or is a folder where a file is wanted (or the reverse), is a usage error (exit 2).
 */
export function existingPath(io: CliIo, given: string, kind: 'file' | 'folder'): string {
  const path = resolve(io.cwd, given);
  if (!existsSync(path)) throw new UsageError(`no such ${kind}: ${given}`);
  const folder = statSync(path).isDirectory();
  if (kind === 'file' && folder) throw new UsageError(`${given} is a folder; give a file`);
  if (kind === 'folder' && !folder) throw new UsageError(`${given} is a file; give a folder`);
  return path;
}
