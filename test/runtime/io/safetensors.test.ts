/** The safetensors reader and writer: every dtype, a header built byte by byte, every bad input, shards. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../../../runtime/errors.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../../runtime/io/dtypes.js';
import { readSafetensors, readSafetensorsHeader, readTensor, writeSafetensors, type Tensor } from '../../../runtime/io/safetensors.js';
import { openTensorSource, readSourceTensor } from '../../../runtime/io/shards.js';
import { refusal, tempDir } from './helpers.js';

const floats = new Float32Array([1, -2.5, 3.14159, 1e-8, 65504, -0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 100000]);

function roundTrip(tensors: [string, Tensor][]): Map<string, Tensor> {
  const path = join(tempDir(), 'model.safetensors');
  writeSafetensors(path, tensors);
  return readSafetensors(path).tensors;
}

/** A file of the given header text (padded or not) and data bytes; `length` overrides the 8-byte length. */
function rawFile(header: string | object, data: number | Uint8Array = 0, length?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(json.length));
  const path = join(tempDir(), 'model.safetensors');
  writeFileSync(path, Buffer.concat([prefix, json, typeof data === 'number' ? Buffer.alloc(data) : data]));
  return path;
}

/** The refusal reading the header of the file at `path` throws. */
function headerRefusal(path: string): RuntimeError {
  return refusal(() => readSafetensorsHeader(path));
}

const f32 = (shape: number[], begin: number): object => ({ dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });

describe('safetensors round trip', () => {
  it('keeps F32, I64 and I32 exactly', () => {
    const ints = new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n)]);
    const back = roundTrip([
      ['a.f32', { dtype: 'F32', shape: [3, 3], data: floats }],
      ['b.i64', { dtype: 'I64', shape: [4], data: ints }],
      ['c.i32', { dtype: 'I32', shape: [2, 1], data: new Int32Array([-7, 2 ** 31 - 1]) }],
      ['d.empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
      ['e.scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
    ]);
    expect([...back.keys()]).toEqual(['a.f32', 'b.i64', 'c.i32', 'd.empty', 'e.scalar']);
    expect(back.get('a.f32')).toEqual({ dtype: 'F32', shape: [3, 3], data: floats });
    expect(back.get('b.i64')!.data).toEqual(ints);
    expect([...back.get('c.i32')!.data]).toEqual([-7, 2 ** 31 - 1]);
    expect(back.get('d.empty')!.shape).toEqual([0, 4]);
    expect([...back.get('e.scalar')!.data]).toEqual([42]);
  });

  it('rounds BF16 and F16 on writing and widens them to float32 on reading', () => {
    const back = roundTrip([
      ['bf', { dtype: 'BF16', shape: [9], data: floats }],
      ['half', { dtype: 'F16', shape: [9], data: floats }],
    ]);
    expect(back.get('bf')!.data).toEqual(bf16ToF32(f32ToBf16(floats)));
    expect(back.get('half')!.data).toEqual(f16ToF32(f32ToF16(floats)));
    // ties to even: 1 + 2^-8 → 1, 1 + 3·2^-8 → 1 + 2^-6
    expect(back.get('bf')!.data[6]).toBe(1);
    expect(back.get('bf')!.data[7]).toBe(1 + 2 ** -6);
    expect(back.get('half')!.data[4]).toBe(65504);
  });

  it('writes the layout HF writes: metadata, offsets from 0, header padded with spaces to 8 bytes', () => {
    const path = join(tempDir(), 'x.safetensors');
    writeSafetensors(path, [['w', { dtype: 'F32', shape: [1], data: new Float32Array([1]) }]]);
    const bytes = readFileSync(path);
    const length = Number(bytes.readBigUInt64LE(0));
    expect(length % 8).toBe(0);
    const header = bytes.subarray(8, 8 + length).toString('utf8');
    expect(header.trimEnd()).toBe('{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    expect(header.slice(header.trimEnd().length)).toMatch(/^ *$/);
    expect(bytes.length).toBe(8 + length + 4);
    expect(readSafetensorsHeader(path).metadata).toEqual({ format: 'pt' });
  });

  it('reads single tensors by byte range from the header alone', () => {
    const path = join(tempDir(), 'm.safetensors');
    writeSafetensors(path, [
      ['first', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }],
      ['second', { dtype: 'BF16', shape: [1], data: new Float32Array([3]) }],
    ]);
    const header = readSafetensorsHeader(path);
    expect(header.tensors.get('second')).toMatchObject({ dtype: 'BF16', shape: [1], begin: 8, end: 10 });
    expect([...readTensor(header, 'second').data]).toEqual([3]);
    expect(() => readTensor(header, 'third')).toThrow(/has no tensor third/);
  });
});

describe('a header built byte by byte', () => {
  it('is read correctly', () => {
    const json = '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
      '"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]},"c":{"dtype":"I64","shape":[1],"data_offsets":[12,20]},' +
      '"d":{"dtype":"F16","shape":[1],"data_offsets":[20,22]}}';
    const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
    const n = padded.length;
    const bytes = [
      n & 0xff, (n >> 8) & 0xff, 0, 0, 0, 0, 0, 0, // header length, u64 little-endian
      ...[...padded].map((c) => c.charCodeAt(0)),
      0x00, 0x00, 0x80, 0x3f, // a[0] = 1.0f
      0x00, 0x00, 0x20, 0xc0, // a[1] = -2.5f
      0xc0, 0x3f, // b[0] = bf16 0x3fc0 = 1.5
      0x80, 0xbe, // b[1] = bf16 0xbe80 = -0.25
      0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // c[0] = -3 (i64)
      0x00, 0x3c, // d[0] = f16 0x3c00 = 1.0
    ];
    const path = join(tempDir(), 'hand.safetensors');
    writeFileSync(path, Uint8Array.from(bytes));
    const { tensors, metadata } = readSafetensors(path);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.get('a')).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1, -2.5]) });
    expect(tensors.get('b')).toEqual({ dtype: 'BF16', shape: [1, 2], data: new Float32Array([1.5, -0.25]) });
    expect(tensors.get('c')).toEqual({ dtype: 'I64', shape: [1], data: new BigInt64Array([-3n]) });
    expect([...tensors.get('d')!.data]).toEqual([1]);

    // and our writer produces these very bytes
    const again = join(tempDir(), 'again.safetensors');
    writeSafetensors(again, [...tensors]);
    expect([...readFileSync(again)]).toEqual(bytes);
  });
});

describe('bad input is refused with the file and the tensor named', () => {
  it('a file shorter than the 8-byte length', () => {
    const path = join(tempDir(), 'short.safetensors');
    writeFileSync(path, Uint8Array.from([1, 2, 3]));
    expect(headerRefusal(path).message).toBe(`${path} is truncated: 3 bytes, but a safetensors file starts with an 8-byte header length`);
  });

  it('a header length beyond the end of the file', () => {
    const path = rawFile('{}', 0, 1000n);
    expect(headerRefusal(path).message).toBe(`${path} is truncated: its header length (1000 bytes) runs past the end of the file (10 bytes)`);
  });

  it('a header length over 100 MB, before looking at the file size', () => {
    const path = rawFile('{}', 0, 100_000_001n);
    const error = headerRefusal(path);
    expect(error.message).toBe(`${path}: header length 100000001 bytes is over the 100 MB limit`);
    expect(error.help).toMatch(/corrupt/);
    expect(headerRefusal(rawFile('{}', 0, 2n ** 64n - 1n)).message).toMatch(/over the 100 MB limit/);
  });

  it('a header that is not JSON, or not a JSON object', () => {
    const path = rawFile('{"a": {"dtype": ');
    expect(headerRefusal(path).message).toMatch(new RegExp(`^${path}: the header is not valid JSON \\(`));
    expect(headerRefusal(rawFile('[1, 2]')).message).toMatch(/the header is not a JSON object/);
    expect(headerRefusal(rawFile(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1'))).message).toMatch(/not valid JSON/);
  });

  it('a truncated data section: offsets out of range', () => {
    const path = rawFile({ w: f32([4], 0) }, 10);
    const error = headerRefusal(path);
    expect(error.message).toBe(`${path}: tensor w: data_offsets [0, 16] are out of range: the file holds 10 bytes of tensor data`);
    expect(error.help).toMatch(/truncated/);
  });

  it('overlapping tensors', () => {
    const path = rawFile({ a: f32([2], 0), b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12);
    expect(headerRefusal(path).message).toBe(`${path}: tensor b [4, 12] overlaps tensor a [0, 8]`);
  });

  it('a gap between tensors, and data not starting at 0', () => {
    const gap = rawFile({ a: f32([1], 0), b: f32([1], 8) }, 12);
    expect(headerRefusal(gap).message).toBe(`${gap}: a gap of 4 bytes after tensor a, before tensor b (tensors must be contiguous)`);
    const late = rawFile({ a: f32([1], 4) }, 8);
    expect(headerRefusal(late).message).toBe(`${late}: a gap of 4 bytes at the start of the data, before tensor a (tensors must be contiguous)`);
  });

  it('bytes after the last tensor', () => {
    const path = rawFile({ a: f32([1], 0) }, 7);
    expect(headerRefusal(path).message).toBe(`${path}: 3 bytes after the last tensor (a) belong to no tensor`);
  });

  it('a byte length that does not match shape × dtype size', () => {
    const path = rawFile({ w: { dtype: 'BF16', shape: [2, 3], data_offsets: [0, 24] } }, 24);
    expect(headerRefusal(path).message).toBe(`${path}: tensor w: BF16[2, 3] needs 12 bytes, but data_offsets [0, 24] hold 24`);
  });

  it('an unknown dtype, with advice for DeepSeek\'s fp8 files', () => {
    const path = rawFile({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8);
    expect(headerRefusal(path).message).toBe(`${path}: tensor w has dtype F64, which is not supported (F32, F16, BF16, I64, I32)`);
    const fp8 = headerRefusal(rawFile({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1));
    expect(fp8.help).toMatch(/bf16/);
  });

  it('malformed entries and metadata', () => {
    expect(headerRefusal(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } })).message).toMatch(/tensor w: shape must be a list of non-negative integers/);
    expect(headerRefusal(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } })).message).toMatch(/tensor w: data_offsets must be \[begin, end\]/);
    expect(headerRefusal(rawFile({ w: 3 })).message).toMatch(/tensor w: the header entry is not an object/);
    expect(headerRefusal(rawFile({ __metadata__: { step: 3 } })).message).toMatch(/__metadata__ entry step is not a string/);
  });

  it('the writer refuses a tensor whose data does not fit its shape, and writes nothing', () => {
    const dir = tempDir();
    const path = join(dir, 'bad.safetensors');
    expect(() => writeSafetensors(path, [['w', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]])).toThrow(
      `cannot write ${path}: tensor w: it holds 3 values, its shape [2, 2] needs 4`,
    );
    expect(() => writeSafetensors(path, [['w', { dtype: 'I64', shape: [1], data: new Float32Array(1) }]])).toThrow(/I64 is written from a BigInt64Array/);
    expect(() => writeSafetensors(path, [['__metadata__', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]])).toThrow(/reserved/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('sharded checkpoints', () => {
  function shardedFolder(weightMap?: Record<string, string>): string {
    const dir = tempDir();
    writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      ['a', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }],
      ['b', { dtype: 'BF16', shape: [1], data: new Float32Array([0.5]) }],
    ]);
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [['c', { dtype: 'F32', shape: [1], data: new Float32Array([7]) }]]);
    const map = weightMap ?? { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' };
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 14 }, weight_map: map }));
    return dir;
  }

  it('reads every tensor of every shard through the index', () => {
    const source = openTensorSource(shardedFolder());
    expect([...source.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([...readSourceTensor(source, 'a').data]).toEqual([1, 2]);
    expect([...readSourceTensor(source, 'c').data]).toEqual([7]);
  });

  it('refuses a tensor stored in two shards', () => {
    const dir = shardedFolder();
    writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [['a', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } }),
    );
    expect(() => openTensorSource(dir)).toThrow(`tensor a is in two shards of ${dir}: model-00001-of-00002.safetensors and model-00002-of-00002.safetensors`);
  });

  it('refuses an index that disagrees with the shards or points elsewhere', () => {
    const wrong = shardedFolder({ a: 'model-00002-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' });
    expect(() => openTensorSource(wrong)).toThrow(/puts tensor a in model-00002-of-00002.safetensors, but it is in model-00001-of-00002.safetensors/);
    const missing = shardedFolder({ a: 'model-00001-of-00002.safetensors', z: 'model-00003-of-00003.safetensors' });
    expect(() => openTensorSource(missing)).toThrow(/lists shard model-00003-of-00003.safetensors, which does not exist/);
    const outside = shardedFolder({ a: '../model-00001-of-00002.safetensors' });
    expect(() => openTensorSource(outside)).toThrow(/not a file name in the same folder/);
  });

  it('refuses a folder with no safetensors', () => {
    const dir = tempDir();
    expect(() => openTensorSource(dir)).toThrow(`${dir} has neither model.safetensors nor model.safetensors.index.json`);
  });
});
