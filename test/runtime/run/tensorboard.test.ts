/**
 * The TensorBoard event file beside metrics.jsonl (runtime/run/tensorboard.ts), decoded back here by
 * a reader written from the format's definition: TFRecord framing with masked CRC-32C checked on
 * every record, then the Event / Summary / Value protobuf fields. The CRC is checked against the
 * standard CRC-32C check value, so writer and reader cannot share a wrong table unnoticed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendMetrics, readMetrics, truncateMetrics } from '../../../runtime/run/metrics.js';
import { openRunFolder } from '../../../runtime/run/run-folder.js';
import { crc32c, EVENTS_FILE, maskedCrc32c } from '../../../runtime/run/tensorboard.js';

interface Decoded {
  wallTime?: number;
  step: number;
  fileVersion?: string;
  scalars: [string, number][];
}

/** Protobuf fields of a message: [field number, wire type, value (number, bigint or bytes)]. */
function fields(bytes: Buffer): [number, number, number | bigint | Buffer][] {
  const out: [number, number, number | bigint | Buffer][] = [];
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[at++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    if (wire === 0) out.push([field, wire, varint()]);
    else if (wire === 1) {
      out.push([field, wire, bytes.readDoubleLE(at)]);
      at += 8;
    } else if (wire === 5) {
      out.push([field, wire, bytes.readFloatLE(at)]);
      at += 4;
    } else if (wire === 2) {
      const n = Number(varint());
      out.push([field, wire, bytes.subarray(at, at + n)]);
      at += n;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

function decode(file: Buffer): Decoded[] {
  const events: Decoded[] = [];
  let at = 0;
  while (at < file.length) {
    const header = file.subarray(at, at + 8);
    expect(file.readUInt32LE(at + 8)).toBe(maskedCrc32c(header));
    const n = Number(file.readBigUInt64LE(at));
    const data = file.subarray(at + 12, at + 12 + n);
    expect(file.readUInt32LE(at + 12 + n)).toBe(maskedCrc32c(data));
    at += 16 + n;
    const e: Decoded = { step: 0, scalars: [] };
    for (const [field, wire, value] of fields(data)) {
      if (field === 1 && wire === 1) e.wallTime = value as number;
      else if (field === 2 && wire === 0) e.step = Number(value);
      else if (field === 3 && wire === 2) e.fileVersion = (value as Buffer).toString('utf8');
      else if (field === 5 && wire === 2) {
        for (const [vf, vw, v] of fields(value as Buffer)) {
          expect([vf, vw]).toEqual([1, 2]);
          const inner = fields(v as Buffer);
          const tag = inner.find(([f, w]) => f === 1 && w === 2)![2] as Buffer;
          const simple = inner.find(([f, w]) => f === 2 && w === 5)![2] as number;
          e.scalars.push([tag.toString('utf8'), simple]);
        }
      } else throw new Error(`unexpected field ${field}/${wire}`);
    }
    events.push(e);
  }
  expect(at).toBe(file.length);
  return events;
}

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-tb-'));
  openRunFolder(dir, () => undefined).release();
  return dir;
}

describe('TensorBoard event files', () => {
  it('uses CRC-32C (check value of "123456789" is 0xe3069283) masked as TFRecord does', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const c = 0xe3069283;
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });

  it('writes every metrics record as a scalar summary at its step, after the file-version event', () => {
    const dir = runDir();
    appendMetrics(dir, { step: 0, valid_loss: 5.5 });
    appendMetrics(dir, { step: 1, loss: 4.25, loss_parts: { lm: 4, mtp: 0.25, aux: 0, z: 0 }, lr: 1e-3, load: { r: [1, 2] }, layer: { r: 1 }, main_layers: 2, best_completion: 'x' });
    appendMetrics(dir, { step: 300, reward: 0.5, components: { accuracy: 1 } });
    const events = decode(readFileSync(join(dir, EVENTS_FILE)));
    expect(events[0]).toMatchObject({ step: 0, fileVersion: 'brain.Event:2', scalars: [] });
    expect(events.slice(1).map((e) => [e.step, e.scalars])).toEqual([
      [0, [['valid_loss', 5.5]]],
      [1, [['loss', 4.25], ['loss_parts/lm', 4], ['loss_parts/mtp', 0.25], ['loss_parts/aux', 0], ['loss_parts/z', 0], ['lr', Math.fround(1e-3)]]],
      [300, [['reward', 0.5], ['components/accuracy', 1]]],
    ]);
    for (const e of events) expect(Math.abs(e.wallTime! - Date.now() / 1000)).toBeLessThan(3600);
  });

  it('matches metrics.jsonl after a resume truncates it: no step twice', () => {
    const dir = runDir();
    for (const step of [0, 1, 2, 3, 4]) appendMetrics(dir, { step, loss: 10 - step });
    truncateMetrics(dir, 2);
    appendMetrics(dir, { step: 3, loss: 1 });
    const steps = decode(readFileSync(join(dir, EVENTS_FILE))).slice(1).map((e) => [e.step, e.scalars[0]![1]]);
    expect(steps).toEqual([
      [0, 10],
      [1, 9],
      [2, 8],
      [3, 1],
    ]);
    expect(readMetrics(dir).map((m) => m.step)).toEqual([0, 1, 2, 3]);
  });
});
