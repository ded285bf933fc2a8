/**
 * A minimal Parquet writer for test fixtures, from the format spec (parquet-format's parquet.thrift):
 * one row group, flat UTF-8 string columns (REQUIRED, or OPTIONAL with nulls), PLAIN encoding, no
 * compression, one v1 data page per column, metadata in Thrift's compact protocol. No npm package
 * writes Parquet here, and a generated binary fixture could not be reviewed.
 */

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

/** `columns`: name → one value per row (null only in a column named in `optional`). */
export function writeParquet(columns: Record<string, (string | null)[]>, optional: readonly string[] = []): Uint8Array {
  const names = Object.keys(columns);
  const rows = columns[names[0]!]!.length;
  const out: number[] = [...enc.encode('PAR1')];
  const chunks: { name: string; offset: number; size: number; values: number }[] = [];
  for (const name of names) {
    const isOptional = optional.includes(name);
    const values = columns[name]!;
    const data: number[] = isOptional ? definitionLevels(values.map((v) => v !== null)) : [];
    for (const v of values) {
      if (v === null) continue;
      const b = enc.encode(v);
      data.push(...le32(b.length), ...b);
    }
    const header = new Compact();
    header.inner(() => {
      header.int(1, 0); // DATA_PAGE
      header.int(2, data.length);
      header.int(3, data.length);
      header.struct(5, () => {
        header.int(1, values.length);
        header.int(2, 0); // PLAIN
        header.int(3, 3); // RLE
        header.int(4, 3);
      });
    });
    chunks.push({ name, offset: out.length, size: header.bytes.length + data.length, values: values.length });
    out.push(...header.bytes, ...data);
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
              meta.int(4, 0); // UNCOMPRESSED
              meta.int(5, c.values, CT.i64);
              meta.int(6, c.size, CT.i64);
              meta.int(7, c.size, CT.i64);
              meta.int(9, c.offset, CT.i64);
            });
          }),
        ));
        meta.int(2, chunks.reduce((s, c) => s + c.size, 0), CT.i64);
        meta.int(3, rows, CT.i64);
      }),
    ]);
  });
  out.push(...meta.bytes, ...le32(meta.bytes.length), ...enc.encode('PAR1'));
  return Uint8Array.from(out);
}
