#!/usr/bin/env node
// Writes the data of examples/r1-tiny.moe into examples/data/r1-tiny/ (`node
// examples/data/make-r1-tiny.mjs` from anywhere). Deterministic: a fixed seed, so the committed
// files are exactly what this script writes.
//
// The task: the most common letter of nine (`Most common of c a b b b a c b a?` → b; lists with a
// tie are left out). A model answers it by counting, which a tiny transformer learns only partly in
// a few hundred steps, so there is room for every stage to improve it; the answer is checked by a
// rule (exact match), and a guess is right a third of the time.
// No list is in two files: the eval prompts are held out from every training stage.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';

// the folder to write: examples/data/r1-tiny/, or the first argument (the tests compare the two)
const OUT = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'r1-tiny');
const LETTERS = ['a', 'b', 'c'];
const LENGTH = 9;

// mulberry32: a small seeded generator, so the files are the same on every machine
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uniform = random(22);

// distinct problems with one most common letter; a list is never drawn twice
const seen = new Set();
function problems(count) {
  const out = [];
  while (out.length < count) {
    const letters = Array.from({ length: LENGTH }, () => LETTERS[Math.floor(uniform() * LETTERS.length)]);
    const counts = LETTERS.map((l) => letters.filter((x) => x === l).length);
    const top = Math.max(...counts);
    const list = letters.join(' ');
    if (counts.filter((c) => c === top).length > 1 || seen.has(list)) continue;
    seen.add(list);
    out.push({ list, answer: LETTERS[counts.indexOf(top)] });
  }
  return out;
}

const question = (p) => ({ prompt: `Most common of ${p.list}?`, answer: p.answer });
const r1 = (p) => ({ ...question(p), completion: `<think>most ${p.answer}</think><answer>${p.answer}</answer>` });

const files = {
  // pretraining: worked problems as plain documents (the base model's "knowledge")
  'pretrain.jsonl': problems(3000).map((p) => {
    const { prompt, completion } = r1(p);
    return { text: prompt + completion };
  }),
  // the cold start: questions with R1-format completions (loss on the completion only)
  'cold.jsonl': problems(512).map(r1),
  // GRPO's prompts, with their answers for the reward
  'prompts.jsonl': problems(512).map(question),
  // rejection sampling's prompts
  'rs.jsonl': problems(64).map(question),
  // the held-out questions every eval stage asks
  'eval.jsonl': problems(128).map(question),
};

mkdirSync(OUT, { recursive: true });
for (const [name, rows] of Object.entries(files)) {
  writeFileSync(join(OUT, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  process.stdout.write(`${join(OUT, name)}: ${rows.length} rows\n`);
}
