/**
 * Runtime errors a user can cause (a graph or checkpoint that does not match, a model too big for
 * memory, a missing backend). The CLI prints their message without a stack trace and exits 1.
 */
export class RuntimeError extends Error {
  constructor(
    message: string,
    /** what to do about it */
    readonly help?: string,
  ) {
    super(message);
    this.name = 'RuntimeError';
  }
}
