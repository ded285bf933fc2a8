/**
 * The tokenizer as HF files (issue 20): the byte tokenizer and a trained BPE written as a
 * tokenizer.json encode every text to the same ids through the HF reader; a folder's files are
 * read with their config's specials and chat template (chat_template.jinja as transformers 5
 * writes it), and refused when they resolve outside the folder.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainBpe } from '../../../runtime/data/bpe.js';
import { byteTokenizer } from '../../../runtime/data/byte.js';
import { byteLevelFiles } from '../../../runtime/data/hf-tokenizer-json.js';
import { readTokenizerFolder, tokenizerFromFiles, writeTokenizerFiles } from '../../../runtime/data/tokenizer-files.js';
import { RuntimeError } from '../../../runtime/errors.js';

const SAMPLES = ['', 'hello world', 'emoji 🙂👍🏽 and 🇫🇷', '中文 汉字 日本語', 'tabs\tand\nnewlines\r\n', "it's   spaced  don't", 'What is 12+30?<think>12+30 = 42</think><answer>42</answer>'];
const qwen3 = join(import.meta.dirname, '..', '..', 'reference', 'hf', 'qwen3-moe-micro');

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'moe-tokfiles-'));
}

describe('the byte and BPE tokenizers as HF files', () => {
  it('the byte tokenizer: the HF reader gives the same ids, specials and text', () => {
    const byte = byteTokenizer();
    const files = byte.hfFiles();
    const hf = tokenizerFromFiles({ files, templateSource: 'test' }, 'tokenizer.json');
    expect([hf.size, hf.bos, hf.eos, hf.pad]).toEqual([byte.size, byte.bos, byte.eos, byte.pad]);
    for (const s of SAMPLES) {
      expect(hf.encode(s)).toEqual(byte.encode(s));
      expect(hf.decode(byte.encode(s))).toBe(s);
    }
    expect(hf.chatTemplate?.render([{ role: 'user', content: 'hi' }], true)).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
  });

  it('a trained BPE: every merge is the HF merge of the same rank, so encodings agree', () => {
    const corpus = SAMPLES.concat(Array.from({ length: 40 }, (_, i) => `the number ${i * 37} is ${i % 2 ? 'odd' : 'even'}; what's ${i}+${i}?`));
    const bpe = trainBpe(corpus, 420);
    expect(bpe.size).toBeGreaterThan(300);
    const hf = tokenizerFromFiles({ files: bpe.hfFiles(), templateSource: 'test' }, 'tokenizer.json');
    for (const s of [...corpus, 'unseen words: zebra 9999 ünïcödé']) {
      expect(hf.encode(s)).toEqual(bpe.encode(s));
      expect(hf.decode(bpe.encode(s))).toBe(bpe.decode(bpe.encode(s)));
    }
    expect(hf.size).toBe(bpe.size);
  });

  it('refuses a BPE whose two ids stand for the same bytes, which tokenizer.json cannot hold', () => {
    // 259 = "ab", 260 = "abc" by (259, c) and 261 = "abc" again by (a, "bc" = 262?) — built directly
    const merges: [number, number][] = [
      [97, 98], // 259 "ab"
      [98, 99], // 260 "bc"
      [259, 99], // 261 "abc"
      [97, 260], // 262 "abc" again
    ];
    expect(() => byteLevelFiles(merges)).toThrow(/two ids for the same bytes \(261 and 262\)/);
  });
});

describe('a folder\'s tokenizer files', () => {
  it('come with the config\'s specials and the chat template of chat_template.jinja (transformers 5)', () => {
    const read = readTokenizerFolder(qwen3)!;
    expect(read.files.config['chat_template']).toContain('<|im_start|>');
    const tok = tokenizerFromFiles(read, 'tokenizer.json');
    // the config names <|im_end|> the eos; the usual-name guess would take <|endoftext|>
    expect(tok.eos).toBe(2);
    expect(tok.pad).toBe(0);
    // HF's apply_chat_template ids for the same conversation (bench/peer/make_hf_families.py)
    const { chat_ids: chatIds } = JSON.parse(readFileSync(`${qwen3}.tokenizer.json`, 'utf8')) as { chat_ids: number[] };
    expect(tok.encode(tok.chatTemplate!.render([{ role: 'user', content: 'What is 12+30?' }], true))).toEqual(chatIds);
  });

  it('written out and read back, are the same files', () => {
    const dir = temp();
    const read = readTokenizerFolder(qwen3)!;
    writeTokenizerFiles(dir, read.files);
    const again = readTokenizerFolder(dir)!;
    expect(again.files).toEqual(read.files);
  });

  it('are refused when tokenizer.json or tokenizer_config.json is a symlink out of the folder', () => {
    const outside = temp();
    copyFileSync(join(qwen3, 'tokenizer.json'), join(outside, 'tokenizer.json'));
    writeFileSync(join(outside, 'tokenizer_config.json'), '{}');
    const viaTokenizer = join(temp(), 'ck');
    mkdirSync(viaTokenizer);
    symlinkSync(join(outside, 'tokenizer.json'), join(viaTokenizer, 'tokenizer.json'));
    expect(() => readTokenizerFolder(viaTokenizer)).toThrow(RuntimeError);
    expect(() => readTokenizerFolder(viaTokenizer)).toThrow(/resolves outside/);
    const viaConfig = join(temp(), 'ck');
    mkdirSync(viaConfig);
    copyFileSync(join(qwen3, 'tokenizer.json'), join(viaConfig, 'tokenizer.json'));
    symlinkSync(join(outside, 'tokenizer_config.json'), join(viaConfig, 'tokenizer_config.json'));
    expect(() => readTokenizerFolder(viaConfig)).toThrow(/tokenizer_config\.json resolves outside/);
  });

  it('a folder without tokenizer.json has none', () => {
    expect(readTokenizerFolder(temp())).toBeUndefined();
  });
});
