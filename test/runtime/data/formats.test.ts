/**
 * Issue 19, "Data": Parquet rows through hyparquet, the Hugging Face row conventions (`text`,
 * `prompt`/`completion`, `messages` with the chat template, SFT on the assistant turns only), files
 * that are not what their format says refused with a code, and counts for what would otherwise go
 * unnoticed (rows with nothing to learn, an empty validation split, bytes that are not UTF-8).
 * On 557c2c5 a Parquet file was read as text and trained on, `{"text": …}` rows were refused,
 * `messages` did not exist, and none of these was counted or coded.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog, isCode } from '../../../compiler/diagnostics/catalog.js';
import { byteTokenizer } from '../../../runtime/data/byte.js';
import { loadRecords, openDataset, type DataBlock } from '../../../runtime/data/dataset.js';
import { byteAlphabet } from '../../../runtime/data/hf-tokenizer.js';
import { hfChatTemplate, openTokenizer } from '../../../runtime/data/open-tokenizer.js';
import { readSource } from '../../../runtime/data/sources.js';
import type { Tokenizer } from '../../../runtime/data/tokenizer.js';
import { writeParquet, type Codec } from './parquet-writer.js';

function folder(files: Record<string, string | Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'moe-formats-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/**
 * runtime/ writes its coded messages out (it may not import the compiler): each must be its code's
 * catalog template with the placeholders filled, and the severity must match (errors thrown, warnings logged).
 */
function fromCatalog(line: string, severity: 'error' | 'warning'): string {
  const m = /^(?:warning: )?(MOE\d{4}): ([\s\S]*)$/.exec(line);
  expect(m, line).not.toBeNull();
  const code = m![1]!;
  expect(isCode(code), code).toBe(true);
  const entry = isCode(code) ? catalog[code] : undefined;
  expect(entry?.severity).toBe(severity);
  const pattern = entry!.message.split(/\{\w+\}/).map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]+');
  expect(m![2]).toMatch(new RegExp(`^${pattern}$`));
  return line;
}

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (error) {
    if (/^MOE\d{4}: /.test((error as Error).message)) fromCatalog((error as Error).message, 'error');
    return error as Error;
  }
  throw new Error('expected an error');
}

/** A warning sink that holds each line against the catalog. */
function sink(): { lines: string[]; warn: (line: string) => void } {
  const lines: string[] = [];
  return { lines, warn: (line) => lines.push(fromCatalog(line, 'warning')) };
}

const QA = writeParquet({ question: ['1+1?', 'héllo?', '3+3?'], reply: ['2', 'wörld', '6'], gold: ['2', null, '6'] }, { optional: ['gold'] });

describe('Parquet', () => {
  it('reads a .parquet source as rows, with the data block field names and file:row', () => {
    const dir = folder({ 'qa.parquet': QA });
    const records = readSource('qa.parquet', dir, { fields: { prompt: 'question', completion: 'reply', answer: 'gold' }, require: ['completion'] });
    expect(records.map((r) => [r.prompt, r.completion, r.answer])).toEqual([
      ['1+1?', '2', '2'],
      ['héllo?', 'wörld', undefined],
      ['3+3?', '6', '6'],
    ]);
    expect(records[1]!.where).toMatch(/qa\.parquet:row 2$/);
  });

  it('reads `text` rows as documents with no setting (and another field when the block names one)', () => {
    const dir = folder({ 'wiki.parquet': writeParquet({ text: ['first doc', 'second doc'] }), 'c.parquet': writeParquet({ content: ['x'] }) });
    expect(readSource('wiki.parquet', dir).map((r) => [r.prompt, r.completion])).toEqual([
      ['', 'first doc'],
      ['', 'second doc'],
    ]);
    expect(readSource('c.parquet', dir, { fields: { text: 'content' } })[0]!.completion).toBe('x');
    // a text row or a text file has no prompt: a prompt set refuses it rather than sampling from nothing
    expect(thrown(() => readSource('wiki.parquet', dir, { require: ['prompt'] })).message).toMatch(/^MOE7102: .*wiki\.parquet:row 1: missing field "prompt"/);
    writeFileSync(join(dir, 'notes.txt'), 'a paragraph\n');
    expect(thrown(() => readSource('notes.txt', dir, { require: ['prompt'] })).message).toMatch(/^MOE7102: .*notes\.txt:1: a text file has no prompt field/);
    expect(readSource('notes.txt', dir, { require: ['completion'] })[0]!.completion).toBe('a paragraph\n');
    expect(thrown(() => readSource('c.parquet', dir)).message).toMatch(/^MOE7102: .*c\.parquet:row 1: the row has none of "messages", "prompt", "completion", "text"/);
  });

  it('refuses a file that is not what its format says, with a code', () => {
    const dir = folder({
      'looks.jsonl': QA,
      'looks.txt': QA,
      'fake.parquet': '{"text": "not parquet"}\n',
      'bin.txt': Uint8Array.from([104, 105, 10, 0, 1, 2]),
      'bad.jsonl': '{"text": "ok"}\n{"text": \n',
      'arr.jsonl': '[1, 2]\n',
    });
    expect(thrown(() => readSource('looks.jsonl', dir)).message).toMatch(/^MOE7101: .*looks\.jsonl is not JSONL: it is a Parquet file/);
    expect(thrown(() => readSource('looks.txt', dir)).message).toMatch(/^MOE7101: .*looks\.txt is not text: it is a Parquet file/);
    expect(thrown(() => readSource('fake.parquet', dir)).message).toMatch(/^MOE7101: .*fake\.parquet is not Parquet: it does not start with PAR1/);
    expect(thrown(() => readSource('bin.txt', dir)).message).toMatch(/^MOE7101: .*bin\.txt is not text: it holds binary data \(a NUL byte on line 2\)/);
    expect(thrown(() => readSource('bad.jsonl', dir)).message).toMatch(/^MOE7102: .*bad\.jsonl:2: not JSON/);
    expect(thrown(() => readSource('arr.jsonl', dir)).message).toMatch(/^MOE7102: .*arr\.jsonl:1: expected an object, got an array/);
    // format overrides the extension, both ways
    expect(readSource('looks.jsonl', dir, { format: 'parquet', fields: { prompt: 'question', completion: 'reply' } })).toHaveLength(3);
  });

  it('names a truncated Parquet file', () => {
    const dir = folder({ 'cut.parquet': QA.subarray(0, QA.length - 20) });
    expect(thrown(() => readSource('cut.parquet', dir)).message).toMatch(/^MOE7101: .*cut\.parquet is not Parquet: /);
  });
});

/**
 * Pages compressed with each codec hyparquet-compressors reads (Hugging Face's files are often zstd).
 * On 8b1bd47 every one but snappy was refused: "parquet unsupported compression codec: ZSTD". The
 * reply of row 2 is long enough that gzip and brotli find repeats and the LZ4 literal length takes
 * several 255 bytes. Read as the trainer reads: a data block through loadRecords and openDataset.
 */
describe('compressed Parquet pages', () => {
  const long = 'wörld '.repeat(100);
  const columns = { question: ['1+1?', 'héllo?', '3+3?'], reply: ['2', long, '6'], gold: ['2', null, '6'] };
  const block: DataBlock = { source: 'qa.parquet', prompt: 'question', completion: 'reply', answer: 'gold' };
  const rows = (dir: string) => loadRecords(block, dir, ['completion']).map((r) => [r.prompt, r.completion, r.answer]);
  /** every SFT batch of a data block's train split, in the order the trainer draws them */
  const batches = (dir: string) => {
    const { train } = openDataset(block, dir, byteTokenizer(), { seqLen: 1024, batch: 1, seed: 3, mode: 'sft', validShare: 0 });
    return Array.from({ length: train.records }, () => {
      const b = train.next();
      return [[...b.inputIds], [...b.lossMask]];
    });
  };
  const plain = folder({ 'qa.parquet': writeParquet(columns, { optional: ['gold'] }) });
  const written = [
    ['1+1?', '2', '2'],
    ['héllo?', long, undefined],
    ['3+3?', '6', '6'],
  ];

  it.each<Codec>(['GZIP', 'BROTLI', 'ZSTD', 'LZ4', 'LZ4_RAW'])('reads %s pages: the same rows and batches as uncompressed', (codec) => {
    const dir = folder({ 'qa.parquet': writeParquet(columns, { optional: ['gold'], codec }) });
    expect(rows(dir)).toEqual(written);
    expect(rows(plain)).toEqual(written);
    const trained = batches(dir);
    expect(trained).toHaveLength(3);
    expect(trained).toEqual(batches(plain));
  });

  it('reads a file whose columns each have their own codec (snappy among them)', () => {
    const dir = folder({ 'qa.parquet': writeParquet(columns, { optional: ['gold'], codec: { question: 'ZSTD', reply: 'SNAPPY', gold: 'GZIP' } }) });
    expect(rows(dir)).toEqual(written);
  });

  it('refuses a corrupt compressed page with MOE7101 naming the file and the codec', () => {
    // the zstd magic number broken: a frame no decoder may accept
    const mangle = (page: Uint8Array) => Uint8Array.from(page, (b, i) => (i === 0 ? b ^ 0xff : b));
    const dir = folder({ 'bad.parquet': writeParquet(columns, { optional: ['gold'], codec: 'ZSTD', mangle }) });
    const error = thrown(() => loadRecords({ ...block, source: 'bad.parquet' }, dir));
    expect(error.message).toMatch(/^MOE7101: .*bad\.parquet is not Parquet: a ZSTD page does not decompress: invalid zstd data$/);
    expect(error.message).not.toMatch(/\n\s+at /);
  });

  it('refuses a GZIP page whose checksum does not match its bytes (never trains on damaged data)', () => {
    // one bit of the gzip trailer's CRC-32 flipped: the deflate stream itself still inflates to the right size
    const mangle = (page: Uint8Array) => Uint8Array.from(page, (b, i) => (i === page.length - 8 ? b ^ 0x01 : b));
    const dir = folder({ 'crc.parquet': writeParquet(columns, { optional: ['gold'], codec: 'GZIP', mangle }) });
    const error = thrown(() => loadRecords({ ...block, source: 'crc.parquet' }, dir));
    expect(error.message).toMatch(/^MOE7101: .*crc\.parquet is not Parquet: a GZIP page does not decompress: .*check/);
  });
});

describe('bytes that are not UTF-8', () => {
  it('are counted per file in a warning with the first line', () => {
    // line 1 is clean (a genuine U+FFFD is a character, not a replacement); line 2 holds two Latin-1 bytes
    const dir = folder({ 'latin.txt': Uint8Array.from([...Buffer.from('ok \uFFFD\ncaf'), 0xe9, 0x20, 0xe0, 10]) });
    const { lines: warnings, warn } = sink();
    const records = readSource('latin.txt', dir, { warn });
    expect(records[0]!.completion).toBe('ok \uFFFD\ncaf\uFFFD \uFFFD\n');
    expect(warnings).toEqual([expect.stringMatching(/^warning: MOE7103: .*latin\.txt: 2 byte sequence\(s\) are not UTF-8 and were replaced by U\+FFFD \(first on line 2\)$/)]);
  });
});

const byte = byteTokenizer();
const CHAT = JSON.stringify({
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello' },
    { role: 'user', content: 'bye' },
    { role: 'assistant', content: 'ciao' },
  ],
});

/** The text of each maximal run of target tokens in the first row of a batch. */
function targets(tokenizer: Tokenizer, ids: Int32Array, mask: Float32Array): string[] {
  const runs: number[][] = [];
  let run: number[] | undefined;
  ids.forEach((id, t) => {
    if (mask[t] === 1) (run ??= (runs.push([]), runs[runs.length - 1]!)).push(id);
    else run = undefined;
  });
  return runs.map((r) => tokenizer.decode(r.filter((id) => id !== tokenizer.eos)));
}

function sft(dir: string, tokenizer: Tokenizer, seqLen: number, warn: (l: string) => void = () => {}, data: DataBlock = { source: 'chat.jsonl' }) {
  return openDataset(data, dir, tokenizer, { seqLen, batch: 1, seed: 0, mode: 'sft', validShare: 0, name: 'chat', warn });
}

describe('chat rows (`messages`)', () => {
  it('render with the default template (ChatML) and SFT learns the assistant turns only', () => {
    const dir = folder({ 'chat.jsonl': `${CHAT}\n` });
    const batch = sft(dir, byte, 256).train.next();
    expect(byte.decode([...batch.inputIds].filter((id) => id !== byte.pad))).toBe(
      '<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nbye<|im_end|>\n<|im_start|>assistant\nciao<|im_end|>\n',
    );
    expect(targets(byte, batch.inputIds, batch.lossMask)).toEqual(['hello<|im_end|>\n', 'ciao<|im_end|>\n']);
  });

  it('use the chat_template of the tokenizer_config.json beside tokenizer.json', () => {
    const template = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% if m['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
    const dir = folder({
      'tokenizer_config.json': JSON.stringify({ chat_template: template, bos_token: '<s>', eos_token: { content: '</s>' } }),
      'chat.jsonl': `${CHAT}\n`,
    });
    const chatTemplate = hfChatTemplate(join(dir, 'tokenizer_config.json'));
    expect(chatTemplate).toBeDefined();
    const batch = sft(dir, { ...byte, chatTemplate }, 256).train.next();
    expect(byte.decode([...batch.inputIds].filter((id) => id !== byte.pad))).toBe('<s>[system] be brief\n[user] hi\n[assistant] hello</s>\n[user] bye\n[assistant] ciao</s>\n');
    expect(targets(byte, batch.inputIds, batch.lossMask)).toEqual(['hello</s>\n', 'ciao</s>\n']);
    // pretraining reads the whole rendering as one document
    const pre = openDataset({ source: 'chat.jsonl' }, dir, { ...byte, chatTemplate }, { seqLen: 8, batch: 1, seed: 0, mode: 'pretrain', validShare: 0 });
    expect(byte.decode([...pre.train.next().inputIds])).toBe('<s>[syst');
  });

  it('come with an hf tokenizer opened from a spec: the template of its folder, special tokens as their ids', () => {
    const vocab: Record<string, number> = {};
    byteAlphabet().forEach((c, b) => (vocab[c] = b));
    const tokenizerJson = JSON.stringify({
      added_tokens: [
        { id: 256, content: '<|endoftext|>', special: true },
        { id: 257, content: '<|eot|>', special: true },
      ],
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab, merges: [] },
    });
    const template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
    const dir = folder({ 'tokenizer.json': tokenizerJson, 'tokenizer_config.json': JSON.stringify({ chat_template: template, eos_token: '<|eot|>', pad_token: '<|endoftext|>' }), 'chat.jsonl': `${CHAT}\n` });
    const hf = openTokenizer({ kind: 'hf', file: 'tokenizer.json' }, {}, dir);
    expect(hf.chatTemplate?.source).toBe(join(dir, 'tokenizer_config.json'));
    const batch = sft(dir, hf, 128).train.next();
    const ids = [...batch.inputIds];
    // the config names <|eot|> the eos, as HF would take it: one per turn, and the eos closing the row
    expect(hf.eos).toBe(257);
    expect(ids.filter((id) => id === 257)).toHaveLength(6);
    expect(targets(hf, batch.inputIds, batch.lossMask)).toEqual(['hello', 'ciao']); // the turns and their <|eot|>, which decode leaves out
    expect(ids.filter((id, t) => id === 257 && batch.lossMask[t] === 1)).toHaveLength(3); // each assistant turn's <|eot|>, and the row's eos
    // a tokenizer.json without a config beside it has no template: the default one is used
    const bare = folder({ 'tokenizer.json': tokenizerJson });
    expect(openTokenizer({ kind: 'hf', file: 'tokenizer.json' }, {}, bare).chatTemplate).toBeUndefined();
  });

  it('refuse a template that does not parse, and messages that are not {role, content}', () => {
    const dir = folder({ 'tokenizer_config.json': JSON.stringify({ chat_template: '{% for m in messages %}' }), 'bad.jsonl': '{"messages": [{"role": "user"}]}\n' });
    expect(thrown(() => hfChatTemplate(join(dir, 'tokenizer_config.json'))).message).toMatch(/^MOE7107: chat template of .*tokenizer_config\.json: it does not parse/);
    expect(thrown(() => sft(dir, byte, 64, undefined, { source: 'bad.jsonl' })).message).toMatch(/^MOE7102: .*bad\.jsonl:1: field "messages" entry 1 is not a \{"role": string, "content": string\} object/);
    // a prompt set (read without a template) refuses chat rows rather than guessing one
    expect(thrown(() => readSource('bad.jsonl', dir)).message).toMatch(/MOE7102/);
  });
});

describe('counts and warnings', () => {
  it('warn with the count of SFT rows whose prompt fills seq_len, and refuse when every row is one', () => {
    const rows = [
      { prompt: 'a very long prompt that fills the row', completion: 'x' },
      { prompt: 'short', completion: 'yes' },
      { prompt: 'another prompt far longer than sixteen', completion: 'y' },
    ];
    const dir = folder({ 'sft.jsonl': rows.map((r) => JSON.stringify(r)).join('\n'), 'long.jsonl': `${JSON.stringify(rows[0])}\n` });
    const { lines: warnings, warn } = sink();
    sft(dir, byte, 16, warn, { source: 'sft.jsonl' });
    expect(warnings).toEqual(['warning: MOE7104: 2 of 3 SFT rows of `chat` train on nothing: the prompt fills seq_len 16']);
    expect(thrown(() => sft(dir, byte, 16, undefined, { source: 'long.jsonl' })).message).toBe(
      'MOE7105: every one of the 1 SFT rows of `chat` trains on nothing: the prompts fill seq_len 16',
    );
    // a prompt one token shorter than seq_len leaves the first completion token: no warning
    const fits: string[] = [];
    sft(folder({ 'chat.jsonl': JSON.stringify({ prompt: 'p'.repeat(15), completion: 'c' }) }), byte, 16, (l) => fits.push(l));
    expect(fits).toEqual([]);
  });

  it('say at start that a corpus of one record leaves the validation split empty', () => {
    const dir = folder({ 'one.txt': 'line one\nline two\nline three\n', 'two.txt': 'para one\n\npara two\n' });
    const { lines: warnings, warn } = sink();
    const open = (source: string) => openDataset({ source }, dir, byte, { seqLen: 4, batch: 1, seed: 0, mode: 'pretrain', name: 'corpus', warn });
    expect(open('one.txt').valid).toBeUndefined();
    expect(warnings).toEqual(['warning: MOE7106: the validation split of `corpus` is empty (1 record(s)): evaluation never runs']);
    expect(open('two.txt').valid).toBeDefined();
    expect(warnings).toHaveLength(1);
  });
});
