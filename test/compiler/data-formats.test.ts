/**
 * Issue 19, "Data", at check time: the data block takes `format = parquet` and names the `text` and
 * `messages` fields of the Hugging Face conventions (557c2c5 rejected all three), and a source whose
 * bytes contradict its format (a Parquet file named .jsonl) is refused before any run reads it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeHost } from '../../compiler/bind/node-host.js';
import { checkFile } from '../../compiler/check/index.js';
import { writeParquet } from '../runtime/data/parquet-writer.js';

function check(spec: string, files: Record<string, string | Uint8Array>): { code: string; message: string }[] {
  const dir = mkdtempSync(join(tmpdir(), 'moe-data-check-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  writeFileSync(join(dir, 'main.moe'), spec);
  return checkFile(join(dir, 'main.moe'), nodeHost).diagnostics.map((d) => ({ code: d.code, message: d.message }));
}

const PARQUET = writeParquet({ content: ['a document'] });

describe('data block formats', () => {
  it('accepts format = parquet and the text and messages field names', () => {
    expect(check('data d { source = "rows.bin", format = parquet, text = "content", messages = "conversation" }\n', { 'rows.bin': PARQUET })).toEqual([]);
    expect(check('data d { source = "rows.parquet" }\n', { 'rows.parquet': PARQUET })).toEqual([]);
  });

  it('refuses a source whose bytes contradict its format', () => {
    expect(check('data d { source = "rows.jsonl" }\n', { 'rows.jsonl': PARQUET })).toEqual([
      { code: 'MOE7101', message: 'rows.jsonl is not JSONL: it is a Parquet file (it starts with PAR1)' },
    ]);
    expect(check('data d { source = "rows.parquet" }\n', { 'rows.parquet': '{"text": "x"}\n' })).toEqual([
      { code: 'MOE7101', message: 'rows.parquet is not Parquet: it does not start with PAR1' },
    ]);
    expect(check('data d { source = "rows.parquet", format = jsonl }\n', { 'rows.parquet': '{"text": "x"}\n' })).toEqual([]);
  });
});
