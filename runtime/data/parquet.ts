/**
 * Parquet rows through hyparquet, read synchronously. hyparquet only has an async API, while the
 * data layer is synchronous (every caller, from the trainer to the tokenizer trainer, reads records
 * without awaiting). So the read runs in a worker thread and this thread blocks on a shared flag
 * until the worker has posted the rows, which `receiveMessageOnPort` then takes without an event
 * loop turn. The worker is inline code, so it works the same from source (tests) and from dist/.
 * hyparquet alone reads uncompressed and snappy pages; hyparquet-compressors adds gzip, brotli, zstd,
 * lz4 (Hadoop-framed or bare) and lz4_raw in JS (and takes snappy over with hysnappy's inline wasm),
 * so Hugging Face's zstd files read too. LZO has no decompressor and stays refused with the reader's reason.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

/** A Parquet file's first and last four bytes. */
export const PARQUET_MAGIC = 'PAR1';

export function hasParquetMagic(bytes: Uint8Array): boolean {
  const head = String.fromCharCode(...bytes.subarray(0, 4));
  return head === PARQUET_MAGIC;
}

/** A wedged worker must not hang the run for ever; a 512 MiB file reads in far less. */
const READ_TIMEOUT_MS = 20 * 60 * 1000;

// CommonJS (an eval worker is one): the worker imports hyparquet and its decompressors by the URLs
// the parent resolved, as an eval worker has no module of its own to resolve them from. A
// decompressor's own error ("invalid zstd data", "Invalid typed array length: …") says nothing of
// Parquet, so each is wrapped to name the codec of the page that failed. GZIP and BROTLI pages go
// through node's zlib instead: its gunzip checks the gzip CRC-32 and length, which the package's
// does not (a damaged page that still inflated to the right size was read as data).
const WORKER = `
const { workerData } = require('node:worker_threads');
const { port, signal, bytes, urls } = workerData;
const messageOf = (error) => String((error && error.message) || error);
(async () => {
  let reply;
  try {
    const { parquetReadObjects } = await import(urls.hyparquet);
    const zlib = require('node:zlib');
    const native = {
      GZIP: (input) => new Uint8Array(zlib.gunzipSync(input)),
      BROTLI: (input) => new Uint8Array(zlib.brotliDecompressSync(input)),
    };
    const all = { ...(await import(urls.compressors)).compressors, ...native };
    const named = Object.entries(all).map(([codec, decompress]) => [codec, (input, length) => {
      try {
        const out = decompress(input, length);
        if (out.length !== length) throw new Error('it inflates to ' + out.length + ' bytes where the page header says ' + length);
        return out;
      } catch (error) {
        throw new Error('a ' + codec + ' page does not decompress: ' + messageOf(error));
      }
    }]);
    const compressors = Object.fromEntries(named);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    reply = { rows: await parquetReadObjects({ file, compressors }) };
  } catch (error) {
    reply = { error: messageOf(error) };
  }
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
})();
`;

export type ParquetRow = Readonly<Record<string, unknown>>;

/** The rows of a Parquet file as objects (column name → value), or why they cannot be read. */
export function readParquetRows(bytes: Uint8Array): ParquetRow[] | { readonly error: string } {
  // resolved here, not at load time: a bundle without import.meta (the editor server) never reads data
  const resolver = createRequire(import.meta.url);
  const url = (name: string): string => pathToFileURL(resolver.resolve(name)).href;
  const urls = { hyparquet: url('hyparquet'), compressors: url('hyparquet-compressors') };
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { port: port2, signal, bytes, urls }, transferList: [port2] });
  try {
    if (Atomics.wait(signal, 0, 0, READ_TIMEOUT_MS) === 'timed-out') return { error: 'the reader did not finish in 20 minutes' };
    const reply = receiveMessageOnPort(port1)?.message as { rows?: ParquetRow[]; error?: string } | undefined;
    if (reply?.rows) return reply.rows;
    return { error: reply?.error ?? 'the reader stopped without an answer' };
  } finally {
    port1.close();
    void worker.terminate();
  }
}
