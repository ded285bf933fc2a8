/**
 * TensorBoard event files beside `metrics.jsonl`, so `tensorboard --logdir runs` shows a run without
 * converting anything. No maintained pure-JS writer is on npm (tfjs-node's summaryFileWriter needs
 * the native TensorFlow binding), so this writes the format itself: TFRecord framing (little-endian
 * u64 length, masked CRC32C of the length, the bytes, masked CRC32C of the bytes) around `Event`
 * protobufs (tensorflow/core/util/event.proto): the first carries `file_version`, each later one a
 * `Summary` of scalar `simple_value`s at a step. The few protobuf fields are encoded by hand.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { MetricsRecord } from './metrics-record.js';
import { claimEntry } from './ownership.js';

/** One fixed name (TensorBoard reads any file whose name holds `tfevents`): rewritten whole when metrics are truncated. */
export const EVENTS_FILE = 'events.out.tfevents.moe';

/** Record fields that are not figures over time: where each router sits (report/plot.ts reads them). */
const NOT_SCALARS = new Set(['step', 'layer', 'main_layers']);

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32C (Castagnoli), as TFRecord uses it. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotated right by 15 bits plus a constant (so CRCs of CRCs stay distinct). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord around `data`. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

function varint(value: number | bigint): Buffer {
  let v = BigInt(value);
  const bytes: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    bytes.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2). */
function delimited(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

/** `Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 | summary = 5 }` */
function event(wallTime: number, step: number, body: { fileVersion: string } | { scalars: readonly (readonly [string, number])[] }): Buffer {
  const time = Buffer.alloc(9);
  time[0] = (1 << 3) | 1;
  time.writeDoubleLE(wallTime, 1);
  const parts: Buffer[] = [time, Buffer.concat([varint(2 << 3), varint(step)])];
  if ('fileVersion' in body) {
    parts.push(delimited(3, Buffer.from(body.fileVersion, 'utf8')));
  } else {
    // Summary { repeated Value value = 1 }, Value { tag = 1 (string), simple_value = 2 (float) }
    const values = body.scalars.map(([tag, v]) => {
      const simple = Buffer.alloc(5);
      simple[0] = (2 << 3) | 5;
      simple.writeFloatLE(v, 1);
      return delimited(1, Buffer.concat([delimited(1, Buffer.from(tag, 'utf8')), simple]));
    });
    parts.push(delimited(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

/**
 * A metrics record's figures as TensorBoard scalars: each number under its key, each number of a
 * nested object under `key/name` (`loss_parts/lm`, `components/accuracy`, `balance/ROUTER`); lists
 * (the expert loads), text and placement fields are left to metrics.jsonl.
 */
export function scalarsOf(record: MetricsRecord): [string, number][] {
  const scalars: [string, number][] = [];
  for (const [key, value] of Object.entries(record)) {
    if (NOT_SCALARS.has(key)) continue;
    if (typeof value === 'number') scalars.push([key, value]);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [name, inner] of Object.entries(value as Record<string, unknown>)) if (typeof inner === 'number') scalars.push([`${key}/${name}`, inner]);
    }
  }
  return scalars;
}

const FILE_VERSION = 'brain.Event:2';

/** The records' events, after the file-version event a new file starts with. */
function eventsOf(records: readonly MetricsRecord[], wallTime: number, withHeader: boolean): Buffer {
  const events = records.map((r) => tfRecord(event(wallTime, r.step, { scalars: scalarsOf(r) })));
  return Buffer.concat([...(withHeader ? [tfRecord(event(wallTime, 0, { fileVersion: FILE_VERSION }))] : []), ...events]);
}

/** Appends a record's scalars to the run folder's event file (started with its header when new). */
export function appendEvent(runDir: string, record: MetricsRecord, wallTime = Date.now() / 1000): void {
  claimEntry(runDir, EVENTS_FILE);
  const path = join(runDir, EVENTS_FILE);
  appendFileSync(path, eventsOf([record], wallTime, !existsSync(path)));
}

/** Rewrites the event file to hold exactly these records (metrics.jsonl truncated on resume). */
export function rewriteEvents(runDir: string, records: readonly MetricsRecord[], wallTime = Date.now() / 1000): void {
  claimEntry(runDir, EVENTS_FILE);
  writeFileAtomic(join(runDir, EVENTS_FILE), eventsOf(records, wallTime, true));
}
