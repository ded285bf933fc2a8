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

/** Exit statuses: 0 clean (warnings allowed), 1 errors in the specs, 2 usage or internal errors. */
export const EXIT = { ok: 0, specErrors: 1, usage: 2 } as const;

export class UsageError extends Error {}
