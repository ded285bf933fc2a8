/**
 * Compact human numbers for the CLI table: counts in decimal units (671.03B), bytes in binary
 * units (68.6 KiB), FLOPs in decimal units (1.23 TFLOPs).
 */

interface Scale {
  readonly base: number;
  /** units[0] is for values below `base` */
  readonly units: readonly string[];
  readonly digits: number;
  /** between the number and the unit */
  readonly separator: string;
}

const COUNT: Scale = { base: 1000, units: ['', 'K', 'M', 'B', 'T'], digits: 2, separator: '' };
const BYTES: Scale = { base: 1024, units: ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'], digits: 1, separator: ' ' };
const FLOPS: Scale = {
  base: 1000,
  units: ['FLOPs', 'KFLOPs', 'MFLOPs', 'GFLOPs', 'TFLOPs', 'PFLOPs', 'EFLOPs', 'ZFLOPs'],
  digits: 2,
  separator: ' ',
};

function formatScaled(value: number, scale: Scale): string {
  if (!Number.isFinite(value)) return String(value);
  const sign = value < 0 ? '-' : '';
  let magnitude = Math.abs(value);
  let unit = 0;
  // Step up while the value, once rounded, would still read as a full unit of the next scale.
  while (unit < scale.units.length - 1 && Number(magnitude.toFixed(scale.digits)) >= scale.base) {
    magnitude /= scale.base;
    unit++;
  }
  // Below the first step there is nothing to round: plain counts and bytes are integers.
  const digits = unit === 0 && Number.isInteger(magnitude) ? 0 : scale.digits;
  return `${sign}${magnitude.toFixed(digits)}${scale.separator}${scale.units[unit]!}`.trimEnd();
}

export function formatCount(value: number): string {
  return formatScaled(value, COUNT);
}

export function formatBytes(value: number): string {
  return formatScaled(value, BYTES);
}

export function formatFlops(value: number): string {
  return formatScaled(value, FLOPS);
}
