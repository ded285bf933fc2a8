/**
 * Parquet rows through hyparquet, read synchronously. hyparquet only has an async API, while the
 * data layer is synchronous (every caller, from the trainer to the tokenizer trainer, reads records
 * without awaiting). So the read runs in a worker thread and this thread blocks on a shared flag
 * until the worker has posted the rows, which `receiveMessageOnPort` then takes without an event
 * loop turn. The worker is inline code, so it works the same from source (tests) and from dist/.
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

// CommonJS (an eval worker is one): the worker imports hyparquet by the URL the parent resolved.
const WORKER = `
const { workerData } = require('node:worker_threads');
const { port, signal, bytes, url } = workerData;
(async () => {
  let reply;
  try {
    const { parquetReadObjects } = await import(url);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    reply = { rows: await parquetReadObjects({ file }) };
  } catch (error) {
    reply = { error: String((error && error.message) || error) };
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
  const url = pathToFileURL(createRequire(import.meta.url).resolve('hyparquet')).href;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { port: port2, signal, bytes, url }, transferList: [port2] });
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
