import { describe, expect, it } from 'vitest';
import { LineIndex } from '../../compiler/service/index.js';

describe('LineIndex', () => {
  const text = 'model A {\r\n  dim = 4\n}';
  const lines = new LineIndex(text);

  it('maps offsets to 0-based lines and characters and back', () => {
    for (let offset = 0; offset <= text.length; offset++) {
      expect(lines.offsetAt(lines.positionAt(offset))).toBe(offset);
    }
    expect(lines.positionAt(text.indexOf('dim'))).toEqual({ line: 1, character: 2 });
  });

  it('clamps positions outside the text instead of failing', () => {
    expect(lines.positionAt(-5)).toEqual({ line: 0, character: 0 });
    expect(lines.positionAt(Number.NaN)).toEqual({ line: 0, character: 0 });
    expect(lines.positionAt(999)).toEqual({ line: 2, character: 1 });
    expect(lines.offsetAt({ line: 0, character: 500 })).toBe(text.indexOf('\n'));
    expect(lines.offsetAt({ line: 9, character: 0 })).toBe(text.length);
    expect(lines.offsetAt({ line: -1, character: 3 })).toBe(0);
  });
});
