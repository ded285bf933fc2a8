/** Offsets ↔ 0-based line/character positions, from a line index built once per text. */
import type { LinePosition, LineRange, TextRange } from './types.js';

export class LineIndex {
  /** offset of the first character of each line */
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  positionAt(offset: number): LinePosition {
    const clamped = Math.max(0, Math.min(Number.isFinite(offset) ? offset : 0, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: clamped - this.starts[lo]! };
  }

  /** The offset of a position; characters past the end of a line stop at its line break. */
  offsetAt(position: LinePosition): number {
    if (position.line < 0) return 0;
    if (position.line >= this.starts.length) return this.text.length;
    const start = this.starts[position.line]!;
    const next = this.starts[position.line + 1];
    const end = next === undefined ? this.text.length : next - 1;
    return Math.max(start, Math.min(start + Math.max(0, position.character), end));
  }

  rangeOf(range: TextRange): LineRange {
    return { start: this.positionAt(range.start), end: this.positionAt(range.end) };
  }
}
