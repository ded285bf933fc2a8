import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatFlops } from '../../compiler/stats/format.js';

describe('format', () => {
  it('writes counts in decimal units', () => {
    expect(formatCount(671_026_404_352)).toBe('671.03B');
    expect(formatCount(37_552_282_624)).toBe('37.55B');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1500)).toBe('1.50K');
    expect(formatCount(2_500_000_000_000)).toBe('2.50T');
  });

  it('carries a value that rounds up to the next unit', () => {
    expect(formatCount(999_999)).toBe('1.00M');
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
  });

  it('writes bytes in binary units', () => {
    expect(formatBytes(70272)).toBe('68.6 KiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(80 * 1024 ** 3)).toBe('80.0 GiB');
    expect(formatBytes(-1.5 * 1024 ** 3)).toBe('-1.5 GiB');
  });

  it('writes FLOPs in decimal units', () => {
    expect(formatFlops(1.23e12)).toBe('1.23 TFLOPs');
    expect(formatFlops(83_485_794_304)).toBe('83.49 GFLOPs');
    expect(formatFlops(12)).toBe('12 FLOPs');
  });

  it('passes non-finite values through', () => {
    expect(formatCount(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(formatBytes(Number.NaN)).toBe('NaN');
  });
});
