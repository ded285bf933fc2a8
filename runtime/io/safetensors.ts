/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N, N bytes
 * of UTF-8 JSON mapping each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the data that follows the header) plus an optional `__metadata__` string map, then
 * the tensors' bytes, contiguous from 0 without gaps.
 *
 * Files can be tens of GB, so a reader parses the header alone first and then reads single tensors
 * by byte range; nothing ever holds a whole file. Every header is validated the way the reference
 * implementation does before any tensor is read, and each refusal names the file and the tensor.
 */
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { RuntimeError } from '../errors.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './dtypes.js';

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 } as const;
export type Dtype = keyof typeof DTYPE_BYTES;
export const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16'];

/** The reference implementation's limit; a larger header means a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Float dtypes read as float32; integers keep their width (I64 needs BigInt to stay exact). */
export type TensorValues = Float32Array | BigInt64Array | Int32Array;

export interface Tensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: TensorValues;
}

/** Where a tensor's bytes are, as the header says; offsets relative to the data start. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** file offset of the first data byte: 8 + header length */
  readonly dataStart: number;
}

// Typed-array views read and write the machine's byte order; safetensors is little-endian, as is
// every platform Node supports today. Refuse rather than silently swap bytes on another.
function requireLittleEndian(): void {
  if (endianness() !== 'LE') throw new RuntimeError('safetensors files are little-endian and this machine is not');
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const formatShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

// ── reading ──────────────────────────────────────────────────────────────────────────────────────

/** Reads `length` bytes at `position`, looping because one readSync may return fewer bytes. */
function readRange(fd: number, position: number, length: number, path: string): Uint8Array {
  // a fresh buffer starts at offset 0, so typed-array views over it are always aligned
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new RuntimeError(`${path} is truncated: it ended ${length - done} bytes early (was it changed while being read?)`);
    done += n;
  }
  return bytes;
}

function withFile<T>(path: string, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new RuntimeError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return use(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads and validates the header only; no tensor bytes are read. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  return withFile(path, (fd) => {
    const size = fstatSync(fd).size;
    if (size < 8) throw new RuntimeError(`${path} is truncated: ${size} bytes, but a safetensors file starts with an 8-byte header length`);
    const length = Buffer.from(readRange(fd, 0, 8, path)).readBigUInt64LE(0);
    if (length > BigInt(MAX_HEADER_BYTES)) {
      throw new RuntimeError(
        `${path}: header length ${length} bytes is over the 100 MB limit`,
        'the file is corrupt or not a safetensors file',
      );
    }
    const headerBytes = Number(length);
    if (8 + headerBytes > size) {
      throw new RuntimeError(`${path} is truncated: its header length (${headerBytes} bytes) runs past the end of the file (${size} bytes)`);
    }
    const json = parseHeaderJson(readRange(fd, 8, headerBytes, path), path);
    return validateHeader(json, path, 8 + headerBytes, size - 8 - headerBytes);
  });
}

function parseHeaderJson(bytes: Uint8Array, path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new RuntimeError(`${path}: the header is not valid JSON (${(error as Error).message})`, 'the file is corrupt or not a safetensors file');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new RuntimeError(`${path}: the header is not a JSON object`);
  return json as Record<string, unknown>;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function readMetadata(value: unknown, path: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RuntimeError(`${path}: __metadata__ must be an object of strings`);
  const entries = Object.entries(value);
  const bad = entries.find(([, v]) => typeof v !== 'string');
  if (bad) throw new RuntimeError(`${path}: __metadata__ entry ${bad[0]} is not a string`);
  return Object.fromEntries(entries) as Record<string, string>;
}

/** One header entry, checked on its own: fields, dtype, byte length, range. */
function readEntry(name: string, value: unknown, path: string, dataBytes: number): TensorInfo {
  const where = `${path}: tensor ${name}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RuntimeError(`${where}: the header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new RuntimeError(`${where}: dtype is missing`);
  if (!Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw new RuntimeError(
      `${where} has dtype ${dtype}, which is not supported (${Object.keys(DTYPE_BYTES).join(', ')})`,
      dtype.startsWith('F8') ? 'convert the checkpoint to bf16 first (DeepSeek ships inference/fp8_cast_bf16.py for this)' : undefined,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new RuntimeError(`${where}: shape must be a list of non-negative integers`);
  const [begin, end] = Array.isArray(offsets) && offsets.length === 2 ? offsets : [];
  if (!isCount(begin) || !isCount(end) || begin > end) throw new RuntimeError(`${where}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end`);
  const info: TensorInfo = { name, dtype: dtype as Dtype, shape, begin, end };
  const expected = elementCount(shape) * DTYPE_BYTES[info.dtype];
  if (end - begin !== expected) {
    throw new RuntimeError(`${where}: ${dtype}${formatShape(shape)} needs ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  if (end > dataBytes) {
    throw new RuntimeError(
      `${where}: data_offsets [${begin}, ${end}] are out of range: the file holds ${dataBytes} bytes of tensor data`,
      'the file is truncated or corrupt',
    );
  }
  return info;
}

/** Tensors must tile the data exactly: from 0, no overlap, no gap, nothing after the last one. */
function checkContiguous(infos: readonly TensorInfo[], path: string, dataBytes: number): void {
  const sorted = [...infos].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  let previous: TensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < position) {
      throw new RuntimeError(`${path}: tensor ${t.name} [${t.begin}, ${t.end}] overlaps tensor ${previous!.name} [${previous!.begin}, ${previous!.end}]`);
    }
    if (t.begin > position) {
      const after = previous ? `after tensor ${previous.name}` : 'at the start of the data';
      throw new RuntimeError(`${path}: a gap of ${t.begin - position} bytes ${after}, before tensor ${t.name} (tensors must be contiguous)`);
    }
    position = t.end;
    previous = t;
  }
  if (position !== dataBytes) {
    throw new RuntimeError(`${path}: ${dataBytes - position} bytes after the last tensor${previous ? ` (${previous.name})` : ''} belong to no tensor`);
  }
}

function validateHeader(json: Record<string, unknown>, path: string, dataStart: number, dataBytes: number): SafetensorsHeader {
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = readMetadata(value, path);
    else tensors.set(name, readEntry(name, value, path, dataBytes));
  }
  checkContiguous([...tensors.values()], path, dataBytes);
  return { path, tensors, metadata, dataStart };
}

/** Bytes of one tensor → its values (floats widened to float32). */
function decode(bytes: Uint8Array, dtype: Dtype): TensorValues {
  const count = bytes.byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, count);
    case 'BF16':
      return bf16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
    case 'F16':
      return f16ToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, count));
    case 'I64':
      return new BigInt64Array(bytes.buffer, bytes.byteOffset, count);
    case 'I32':
      return new Int32Array(bytes.buffer, bytes.byteOffset, count);
  }
}

/** One tensor by name, read from its byte range. */
export function readTensor(header: SafetensorsHeader, name: string): Tensor {
  requireLittleEndian();
  const info = header.tensors.get(name);
  if (!info) throw new RuntimeError(`${header.path} has no tensor ${name}`);
  const bytes = withFile(header.path, (fd) => readRange(fd, header.dataStart + info.begin, info.end - info.begin, header.path));
  return { dtype: info.dtype, shape: info.shape, data: decode(bytes, info.dtype) };
}

/** A whole (small) file: the header, then every tensor. */
export function readSafetensors(path: string): { tensors: Map<string, Tensor>; metadata: Readonly<Record<string, string>> } {
  const header = readSafetensorsHeader(path);
  const tensors = new Map<string, Tensor>();
  for (const name of header.tensors.keys()) tensors.set(name, readTensor(header, name));
  return { tensors, metadata: header.metadata };
}

// ── writing ──────────────────────────────────────────────────────────────────────────────────────

/** The array type each dtype is written from. */
function acceptsValues(dtype: Dtype, data: TensorValues): boolean {
  if (dtype === 'I64') return data instanceof BigInt64Array;
  if (dtype === 'I32') return data instanceof Int32Array;
  return data instanceof Float32Array;
}

/** Every tensor is checked before the first byte is written, so a bad one never leaves half a file. */
function checkWritable(path: string, name: string, t: Tensor): void {
  const where = `cannot write ${path}: tensor ${name}`;
  if (name === '__metadata__') throw new RuntimeError(`${where}: the name is reserved`);
  if (!Object.hasOwn(DTYPE_BYTES, t.dtype)) throw new RuntimeError(`${where}: unknown dtype ${String(t.dtype)}`);
  if (!t.shape.every(isCount)) throw new RuntimeError(`${where}: shape ${formatShape(t.shape)} is not a list of non-negative integers`);
  if (!acceptsValues(t.dtype, t.data)) throw new RuntimeError(`${where}: ${t.dtype} is written from a ${t.dtype === 'I64' ? 'BigInt64Array' : t.dtype === 'I32' ? 'Int32Array' : 'Float32Array'}`);
  const n = elementCount(t.shape);
  if (t.data.length !== n) throw new RuntimeError(`${where}: it holds ${t.data.length} values, its shape ${formatShape(t.shape)} needs ${n}`);
}

/** The header bytes, space-padded to a multiple of 8 as the reference writer does (aligns the data). */
function encodeHeader(tensors: readonly (readonly [string, Tensor])[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = elementCount(t.shape) * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}

/** A tensor's bytes in the file's dtype (a view, not a copy, for F32 and the integers). */
function encodeValues(t: Tensor): Uint8Array {
  const d = t.data;
  if (t.dtype === 'BF16') return new Uint8Array(f32ToBf16(d as Float32Array).buffer);
  if (t.dtype === 'F16') return new Uint8Array(f32ToF16(d as Float32Array).buffer);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

/**
 * Writes a safetensors file, tensors in the given order, one tensor in memory at a time. The file is
 * written under a temporary name and renamed into place, so readers never see half of it.
 */
export function writeSafetensors(
  path: string,
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Readonly<Record<string, string>> = { format: 'pt' },
): void {
  requireLittleEndian();
  const list = [...tensors];
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (seen.has(name)) throw new RuntimeError(`cannot write ${path}: tensor ${name} is given twice`);
    seen.add(name);
    checkWritable(path, name, t);
  }
  const temp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(temp, 'w');
    try {
      writeAll(fd, encodeHeader(list, metadata));
      for (const [, t] of list) writeAll(fd, encodeValues(t));
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
