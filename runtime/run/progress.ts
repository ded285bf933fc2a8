/**
 * Progress of a long run: on a terminal, one line redrawn in place (step, loss, tokens/s, ETA); off a
 * terminal (CI, logs), a plain line every `every` steps, so logs stay readable.
 */
export interface ProgressSink {
  readonly write: (text: string) => void;
  readonly tty: boolean;
}

export interface ProgressUpdate {
  readonly step: number;
  readonly steps: number;
  /** the figure shown after the step: the loss, or what `label` names (GRPO shows the mean reward) */
  readonly loss: number;
  readonly tokensPerSecond: number;
  readonly lr: number;
  readonly label?: string;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function progressLine(u: ProgressUpdate, elapsedSeconds: number, startStep: number): string {
  const done = u.step - startStep;
  const eta = done > 0 ? ((u.steps - u.step) * elapsedSeconds) / done : NaN;
  const width = 20;
  const filled = Math.round((width * u.step) / Math.max(1, u.steps));
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  return `${bar} step ${u.step}/${u.steps}  ${u.label ?? 'loss'} ${u.loss.toFixed(4)}  lr ${u.lr.toExponential(2)}  ${Math.round(u.tokensPerSecond)} tok/s  ETA ${formatDuration(eta)}`;
}

export class Progress {
  private readonly started = performance.now();

  constructor(
    private readonly sink: ProgressSink,
    private readonly startStep: number,
    private readonly every = 10,
  ) {}

  update(u: ProgressUpdate): void {
    const line = progressLine(u, (performance.now() - this.started) / 1000, this.startStep);
    if (this.sink.tty) this.sink.write(`\r\u001b[2K${line}`);
    else if (u.step % this.every === 0 || u.step === u.steps) this.sink.write(`${line}\n`);
  }

  done(): void {
    if (this.sink.tty) this.sink.write('\n');
  }
}
