/**
 * Ctrl-C (SIGINT) and SIGTERM during training: the first one asks the training session to stop
 * after the step in flight, write a checkpoint at that step and throw `Interrupted` (the CLI
 * prints the resume command and exits 130); a second one exits at once, as a user pressing
 * Ctrl-C twice expects. The request is process-wide state because signals are: the CLI installs
 * the handlers around a command, the session (runtime/train/session.ts) polls the flag between
 * steps. Without installed handlers nothing is ever requested and Node's default applies.
 */
export const INTERRUPT_EXIT = 130;

let requested: NodeJS.Signals | null = null;

/** The signal that asked training to stop, or null. */
export function interruptRequested(): NodeJS.Signals | null {
  return requested;
}

/**
 * Installs the SIGINT/SIGTERM handlers; `notice` is told once when the first signal arrives.
 * Returns the function that removes them (and forgets a request).
 */
export function watchInterrupts(notice: (signal: NodeJS.Signals) => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (requested !== null) process.exit(INTERRUPT_EXIT);
    requested = signal;
    notice(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    requested = null;
  };
}

/** Training stopped on a signal after `step`; `checkpoint` is the one this session wrote there, '' when the run was saved there already (the checkpoint resumed from) or not at all (step 0). */
export class Interrupted extends Error {
  constructor(
    readonly signal: NodeJS.Signals,
    readonly stage: string,
    readonly step: number,
    readonly checkpoint: string,
  ) {
    super(`${signal}: stopped ${stage} after step ${step}${checkpoint ? `, checkpoint ${checkpoint}` : ''}`);
    this.name = 'Interrupted';
  }
}
