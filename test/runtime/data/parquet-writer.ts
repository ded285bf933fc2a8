/**
 * A minimal Parquet writer for test fixtures, from the format spec (parquet-format's parquet.thrift):
 * one row group, flat UTF-8 string columns (REQUIRED, or OPTIONAL with nulls), PLAIN encoding, one
 * v1 data page per column, uncompressed or compressed with one codec, metadata in Thrift's compact
 * protocol. No npm package writes Parquet here, and a generated binary fixture could not be reviewed.
 */
import { brotliCompressSync, gzipSync } from 'node:zlib';

const CT = { i32: 5, i64: 6, binary: 8, list: 9, struct: 12 } as const;

class Compact {
  readonly bytes: number[] = [];
  private last: number[] = [0];

  varint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.bytes.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.bytes.push(v);
  }
  private zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
  private header(id: number, type: number): void {
    const delta = id - this.last[this.last.length - 1]!;
    this.bytes.push((delta << 4) | type);
    this.last[this.last.length - 1] = id;
  }
  int(id: number, n: number, type: 5 | 6 = CT.i32): void {
    this.header(id, type);
    this.zigzag(n);
  }
  binary(id: number, data: Uint8Array): void {
    this.header(id, CT.binary);
    this.varint(data.length);
    this.bytes.push(...data);
  }
  struct(id: number, body: () => void): void {
    this.header(id, CT.struct);
    this.inner(body);
  }
  list(id: number, type: number, items: (() => void)[]): void {
    this.header(id, CT.list);
    this.bytes.push((items.length < 15 ? items.length << 4 : 0xf0) | type);
    if (items.length >= 15) this.varint(items.length);
    for (const item of items) item();
  }
  /** a struct's fields, then its stop byte */
  inner(body: () => void): void {
    this.last.push(0);
    body();
    this.bytes.push(0);
    this.last.pop();
  }
}

const enc = new TextEncoder();

function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Levels for an OPTIONAL column: RLE/bit-packed hybrid, 4-byte length prefix, bit width 1, one bit-packed run. */
function definitionLevels(present: boolean[]): number[] {
  const groups = Math.ceil(present.length / 8);
  const packed = new Array<number>(groups).fill(0);
  present.forEach((p, i) => (packed[i >> 3]! |= p ? 1 << (i & 7) : 0));
  const run = [(groups << 1) | 1, ...packed];
  return [...le32(run.length), ...run];
}

function be32(n: number): number[] {
  return le32(n).reverse();
}

/**
 * A zstd frame (RFC 8878 §3.1.1) of Raw_Blocks: node's zlib has no zstd compressor, and a frame whose
 * blocks hold the bytes as they are is one every decoder must accept. Single_Segment with a 4-byte
 * Frame_Content_Size (descriptor 0b10_1_0_0_0_00), so no Window_Descriptor; a block holds at most
 * 128 KiB (Block_Maximum_Size), each with a 3-byte little-endian header: Last_Block, Block_Type 0, size.
 */
export function zstdRawFrame(bytes: Uint8Array): Uint8Array {
  const out = [...le32(0xfd2fb528), 0xa0, ...le32(bytes.length)];
  const max = 128 * 1024;
  for (let at = 0; at === 0 || at < bytes.length; at += max) {
    const block = bytes.subarray(at, at + max);
    const header = (block.length << 3) | (at + max >= bytes.length ? 1 : 0);
    out.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, ...block);
  }
  return Uint8Array.from(out);
}

/**
 * One LZ4 block (the LZ4 block format) of one sequence of literals only: a token whose high nibble is
 * the literal length (15: more length bytes follow, 255 each until one below 255), then the literals.
 * The last sequence of a block has no match, so this one ends the block.
 */
export function lz4LiteralBlock(bytes: Uint8Array): Uint8Array {
  const out = [Math.min(bytes.length, 15) << 4];
  if (bytes.length >= 15) {
    let rest = bytes.length - 15;
    for (; rest >= 255; rest -= 255) out.push(255);
    out.push(rest);
  }
  out.push(...bytes);
  return Uint8Array.from(out);
}

/**
 * Snappy's raw format (format_description.txt) with one literal: the uncompressed length as a varint,
 * then a literal tag (low bits 00) whose upper six bits are length − 1 up to 60, else 60 + n for an
 * n-byte little-endian length − 1 after it.
 */
export function snappyLiteral(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let v = bytes.length; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      out.push(v);
      break;
    }
    out.push((v & 0x7f) | 0x80);
  }
  const n = bytes.length - 1;
  if (n < 0) return Uint8Array.from(out); // nothing to copy: the length alone
  if (n < 60) out.push(n << 2);
  else {
    const length = le32(n).slice(0, n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4);
    out.push((59 + length.length) << 2, ...length);
  }
  out.push(...bytes);
  return Uint8Array.from(out);
}

/** The codecs of parquet.thrift's CompressionCodec this writer compresses with, by number and compressor. */
export const CODECS = {
  UNCOMPRESSED: { id: 0, compress: (b: Uint8Array) => b },
  SNAPPY: { id: 1, compress: snappyLiteral },
  GZIP: { id: 2, compress: (b: Uint8Array) => Uint8Array.from(gzipSync(b)) },
  BROTLI: { id: 4, compress: (b: Uint8Array) => Uint8Array.from(brotliCompressSync(b)) },
  // the deprecated LZ4 codec is the Hadoop framing: big-endian uncompressed and compressed sizes, then the block
  LZ4: { id: 5, compress: (b: Uint8Array) => { const block = lz4LiteralBlock(b); return Uint8Array.from([...be32(b.length), ...be32(block.length), ...block]); } },
  ZSTD: { id: 6, compress: zstdRawFrame },
  LZ4_RAW: { id: 7, compress: lz4LiteralBlock },
} as const;

export type Codec = keyof typeof CODECS;

export interface WriteOptions {
  /** columns whose values may be null (OPTIONAL) */
  readonly optional?: readonly string[];
  /** one codec for every column, or one per column name (a column not named is uncompressed) */
  readonly codec?: Codec | Readonly<Record<string, Codec>>;
  /** changes each page's compressed bytes after compression (a corrupt page) */
  readonly mangle?: (compressed: Uint8Array) => Uint8Array;
}

/** `columns`: name → one value per row (null only in a column named in `optional`). */
export function writeParquet(columns: Record<string, (string | null)[]>, options: WriteOptions = {}): Uint8Array {
  const { optional = [], codec = 'UNCOMPRESSED', mangle = (b: Uint8Array) => b } = options;
  const names = Object.keys(columns);
  const rows = columns[names[0]!]!.length;
  const out: number[] = [...enc.encode('PAR1')];
  const chunks: { name: string; codec: Codec; offset: number; size: number; rawSize: number; values: number }[] = [];
  for (const name of names) {
    const columnCodec = typeof codec === 'string' ? codec : (codec[name] ?? 'UNCOMPRESSED');
    const isOptional = optional.includes(name);
    const values = columns[name]!;
    const data: number[] = isOptional ? definitionLevels(values.map((v) => v !== null)) : [];
    for (const v of values) {
      if (v === null) continue;
      const b = enc.encode(v);
      data.push(...le32(b.length), ...b);
    }
    const page = mangle(CODECS[columnCodec].compress(Uint8Array.from(data)));
    const header = new Compact();
    header.inner(() => {
      header.int(1, 0); // DATA_PAGE
      header.int(2, data.length); // uncompressed_page_size
      header.int(3, page.length); // compressed_page_size: the bytes that follow the header
      header.struct(5, () => {
        header.int(1, values.length);
        header.int(2, 0); // PLAIN
        header.int(3, 3); // RLE
        header.int(4, 3);
      });
    });
    chunks.push({ name, codec: columnCodec, offset: out.length, size: header.bytes.length + page.length, rawSize: header.bytes.length + data.length, values: values.length });
    out.push(...header.bytes, ...page);
  }
  const meta = new Compact();
  meta.inner(() => {
    meta.int(1, 1);
    meta.list(2, CT.struct, [
      () => meta.inner(() => {
        meta.binary(4, enc.encode('schema'));
        meta.int(5, names.length);
      }),
      ...names.map((name) => () =>
        meta.inner(() => {
          meta.int(1, 6); // BYTE_ARRAY
          meta.int(3, optional.includes(name) ? 1 : 0);
          meta.binary(4, enc.encode(name));
          meta.int(6, 0); // UTF8
        }),
      ),
    ]);
    meta.int(3, rows, CT.i64);
    meta.list(4, CT.struct, [
      () => meta.inner(() => {
        meta.list(1, CT.struct, chunks.map((c) => () =>
          meta.inner(() => {
            meta.int(2, c.offset, CT.i64);
            meta.struct(3, () => {
              meta.int(1, 6);
              meta.list(2, CT.i32, [() => meta.varint(0), () => meta.varint(6)]);
              meta.list(3, CT.binary, [() => { const b = enc.encode(c.name); meta.varint(b.length); meta.bytes.push(...b); }]);
              meta.int(4, CODECS[c.codec].id);
              meta.int(5, c.values, CT.i64);
              meta.int(6, c.rawSize, CT.i64); // total_uncompressed_size
              meta.int(7, c.size, CT.i64); // total_compressed_size
              meta.int(9, c.offset, CT.i64);
            });
          }),
        ));
        meta.int(2, chunks.reduce((s, c) => s + c.rawSize, 0), CT.i64); // total_byte_size, uncompressed
        meta.int(3, rows, CT.i64);
      }),
    ]);
  });
  out.push(...meta.bytes, ...le32(meta.bytes.length), ...enc.encode('PAR1'));
  return Uint8Array.from(out);
}
