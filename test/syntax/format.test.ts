import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DiagnosticBag } from '../../compiler/diagnostics/diagnostic.js';
import { formatText } from '../../compiler/syntax/format.js';
import { parseText } from '../../compiler/syntax/parse.js';

const fixturesDir = fileURLToPath(new URL('./fixtures-format/', import.meta.url));
const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
const languageFixture = readFileSync(`${fixturesDir}language.moe`, 'utf8');
const languageExpected = readFileSync(`${fixturesDir}language.expected.moe`, 'utf8');

function parse(text: string) {
  const diagnostics = new DiagnosticBag();
  const result = parseText('test.moe', text, diagnostics);
  return { ...result, errors: diagnostics.errorCount };
}

/** The AST without positions: what a file means, independent of its layout. */
function stripPositions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPositions);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'span' && key !== 'keyword' && key !== 'comments')
      .map(([key, inner]) => [key, stripPositions(inner)]),
  );
}

/** Comment texts in order; trailing whitespace on a line is not part of a comment's content. */
function commentTexts(text: string): string[] {
  return parse(text).comments.map((c) =>
    c.image
      .split('\n')
      .map((line) => line.trimEnd())
      .join('\n'),
  );
}

function format(text: string): { text: string; changed: boolean } {
  const result = formatText('test.moe', text);
  if ('error' in result) throw new Error('unexpected syntax error');
  return result;
}

/** Everything formatting promises about one input. */
function expectWellFormatted(source: string): string {
  const original = parse(source);
  expect(original.errors).toBe(0);
  const output = format(source).text;
  const reparsed = parse(output);
  expect(reparsed.errors).toBe(0);
  expect(stripPositions(reparsed.ast)).toEqual(stripPositions(original.ast));
  expect(commentTexts(output)).toEqual(commentTexts(source));
  expect(format(output)).toEqual({ text: output, changed: false });
  expect(output.endsWith('\n') && !output.endsWith('\n\n')).toBe(true);
  expect(output).not.toMatch(/\n\n\n/);
  expect(output).not.toMatch(/^\n/);
  expect(output).not.toMatch(/[ \t]\n/);
  return output;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32), so a failing seed can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Piece {
  readonly start: number;
  readonly end: number;
  readonly type: string;
}

/** The source cut into tokens and comments, with the whitespace (and commas never) between them. */
function pieces(text: string): Piece[] {
  const { tokens, comments } = parse(text);
  return [...tokens, ...comments]
    .map((t) => ({ start: t.startOffset, end: t.startOffset + t.image.length, type: t.tokenType.name }))
    .sort((a, b) => a.start - b.start);
}

/**
 * Rewrites every gap between tokens with different whitespace of the same meaning: other runs of
 * spaces and tabs within a line, other indentation, trailing blanks, longer runs of blank lines.
 * `extra` may add text at the start of a gap (a comment to insert).
 */
function reshuffle(text: string, seed: number, extra: (gap: string, next: () => number) => string = () => ''): string {
  const next = random(seed);
  const spaces = (min: number): string => ' \t  '.slice(0, min + Math.floor(next() * 3)).replace(/^\t/, ' ');
  const parts = pieces(text);
  let out = text.slice(0, parts[0]?.start ?? 0);
  parts.forEach((piece, i) => {
    out += text.slice(piece.start, piece.end);
    const following = parts[i + 1];
    const gap = text.slice(piece.end, following ? following.start : text.length);
    const prefix = extra(gap, next);
    if (gap === '') out += piece.type === 'NumberLiteral' || prefix !== '' ? prefix : spaces(0);
    else if (!gap.includes('\n')) out += prefix + spaces(1);
    else {
      const breaks = (gap.match(/\n/g) ?? []).length;
      const moreBlank = breaks >= 2 && next() < 0.5 ? '\n' : '';
      out += `${prefix}${spaces(0)}${'\n'.repeat(breaks)}${moreBlank}${spaces(0)}`;
    }
  });
  return out;
}

describe('formatText', () => {
  it('prints a messy spec in the canonical layout', () => {
    const messy = [
      '/* header */',
      'import   "b.moe" // b',
      'import "a.moe"',
      'const A=1',
      'const B = A*2+ (3 -1)',
      'model  X   extends Y{vocab=4_096,dim=256 ,',
      '// lead for layers',
      '',
      '',
      '  layers=6   /* t1 */ // t2',
      '  n = -A % 3, e = { }, f = {',
      '  }',
      '  l = [1 ,2,',
      '    3,]',
      '  m = foo( a , b.c , 2000 steps )',
      '  q = 80GiB, r = 1e-3, s = 2000   steps',
      '  layers 0 .. N-1 { ffn swiglu { hidden = 4*dim } }',
      '  nested v { /* open */ a = 1',
      '    b = 2 /* tb */ c = 3',
      '',
      '',
      '    // dangling',
      '  }',
      '       }',
      'reward r { accuracy 0.4 = answer { extract = r"<a>(.*?)</a>" }, fmt 0.6 = { x = 1 } }',
      'pipeline   r1 { a->b -> c',
      '  d -> e }',
      'tokenizer t {kind=byte}',
      '// end',
    ].join('\n');
    const expected = [
      '/* header */',
      'import "b.moe" // b',
      'import "a.moe"',
      '',
      'const A = 1',
      'const B = A * 2 + (3 - 1)',
      '',
      'model X extends Y {',
      '  vocab = 4_096',
      '  dim = 256',
      '  // lead for layers',
      '',
      '  layers = 6 /* t1 */ // t2',
      '  n = -A % 3',
      '  e = {}',
      '  f = {}',
      '  l = [1, 2, 3]',
      '  m = foo(a, b.c, 2000 steps)',
      '  q = 80GiB',
      '  r = 1e-3',
      '  s = 2000 steps',
      '  layers 0..N - 1 {',
      '    ffn swiglu { hidden = 4 * dim }',
      '  }',
      '  nested v { /* open */',
      '    a = 1',
      '    b = 2 /* tb */',
      '    c = 3',
      '',
      '    // dangling',
      '  }',
      '}',
      '',
      'reward r {',
      '  accuracy 0.4 = answer { extract = r"<a>(.*?)</a>" }',
      '  fmt 0.6 = { x = 1 }',
      '}',
      '',
      'pipeline r1 { a -> b -> c, d -> e }',
      '',
      'tokenizer t { kind = byte }',
      '// end',
      '',
    ].join('\n');
    expect(format(messy)).toEqual({ text: expected, changed: true });
    expectWellFormatted(messy);
  });

  it('keeps every comment exactly once, in order', () => {
    const source = [
      '// file header',
      '',
      'const A = 1 // trailing a',
      'model X { // open',
      '  /* before a */ a = [1, /* in list */ 2] // after a',
      '  b = 2000 /* between number and unit */ steps',
      '  n /* in head */ { c = 1 } /* after n */ /* and again */',
      '  // dangling',
      '} // after X',
      'pipeline p { a -> // in pipeline',
      '  b }',
      '/* multi',
      '   line */',
      '// end of file',
    ].join('\n');
    const output = expectWellFormatted(source);
    const comments = commentTexts(source);
    expect(comments).toHaveLength(15);
    for (const comment of comments) expect(output.split(comment)).toHaveLength(2);
    expect(output).toContain('  b = 2000 steps\n');
    expect(output).toContain('  /* in list */\n  a = [1, 2] // after a\n');
    expect(output).toContain('  n { c = 1 } /* after n */ /* and again */\n');
    expect(output).toContain('// in pipeline\npipeline p { a -> b }\n');
    expect(output).toContain('/* multi\n   line */\n// end of file\n');
  });

  it('drops trailing whitespace inside comments and normalises CRLF line breaks', () => {
    const source = 'model X {\r\n  a = 1 // c   \r\n  /* b  \r\n  lock */\r\n  b = 2\r\n}\r\n';
    expect(format(source).text).toBe('model X {\n  a = 1 // c\n  /* b\n  lock */\n  b = 2\n}\n');
    expectWellFormatted(source);
  });

  it('is idempotent', () => {
    for (const source of [languageFixture, 'model X { a = 1 }', 'cluster c { devices = 8, memory = 80GiB }\n\n\n']) {
      const once = format(source).text;
      expect(format(once)).toEqual({ text: once, changed: false });
    }
  });

  it('reports a syntax error instead of formatting', () => {
    for (const broken of [
      'model X { a = }',
      'model X { a = 1',
      'model X { a = "unterminated }',
      'model X { a = 1 /* unclosed',
      'model X { a = "bad \\q escape" }',
      'x y { 1 = 2 }',
      '',
      '// only a comment\n',
    ]) {
      expect(formatText('broken.moe', broken)).toEqual({ error: 'syntax' });
    }
  });

  it('keeps numbers, units and strings exactly as written', () => {
    const source = 'cluster c { memory = 80GiB, other = 80 GiB, steps = 2000   steps, n = 4_096, lr = 1e-3, big = 14.8T tokens, p = 80%, s = "a\\tb", r = r#"x"y"# }\n';
    const output = expectWellFormatted(source);
    expect(output).toBe(
      'cluster c {\n  memory = 80GiB\n  other = 80 GiB\n  steps = 2000 steps\n  n = 4_096\n  lr = 1e-3\n  big = 14.8T tokens\n  p = 80%\n  s = "a\\tb"\n  r = r#"x"y"#\n}\n',
    );
  });

  it('never lets a number take the next field name as its unit', () => {
    // `steps` on the next line is a field, not the unit of 2000; on one line commas keep it so
    expect(format('pretrain p { a = 2000\n steps = 3 }').text).toBe('pretrain p {\n  a = 2000\n  steps = 3\n}\n');
    expect(format('pretrain p { a = 2000, steps = 3 }').text).toBe('pretrain p { a = 2000, steps = 3 }\n');
  });

  it('keeps parentheses and spaces binary operators', () => {
    expect(format('const X = (1+2)*-(3 - (4))%5/6\n').text).toBe('const X = (1 + 2) * -(3 - (4)) % 5 / 6\n');
  });

  it('keeps a body on one line only when it was, holds simple fields and fits in 100 columns', () => {
    const line = (n: number): string => `model X {\n  m { s = "${'x'.repeat(n)}" }\n}\n`;
    expect(format(line(86)).text).toBe(line(86));
    expect(format(line(86)).text.split('\n').map((l) => l.length)).toContain(100);
    expect(format(line(87)).text).toBe(`model X {\n  m {\n    s = "${'x'.repeat(87)}"\n  }\n}\n`);
    expect(format('model X {\n  a = 1\n}').text).toBe('model X {\n  a = 1\n}\n');
    expect(format('model X { n { a = 1 } }').text).toBe('model X {\n  n { a = 1 }\n}\n');
    expect(format('model X { a = b { c = 1 } }').text).toBe('model X {\n  a = b { c = 1 }\n}\n');
    expect(format('model X {\n\n}').text).toBe('model X {}\n');
    expect(format('model X { a = [ { b = 1 },\n { c = d { e = 2 } } ] }').text).toBe(
      'model X {\n  a = [{ b = 1 }, { c = d { e = 2 } }]\n}\n',
    );
  });

  it('separates top-level items by one blank line and keeps blank lines between members', () => {
    const source = 'const A = 1\n\n\nconst B = 2\nmodel X {\n\n  a = 1\n\n\n\n  b = 2\n\n}\nmodel Y {}\n\n\n\n// end\n\n\n';
    expect(format(source).text).toBe('const A = 1\n\nconst B = 2\n\nmodel X {\n  a = 1\n\n  b = 2\n}\n\nmodel Y {}\n\n// end\n');
  });

  it('prints weighted rules, layer ranges and pipelines in their canonical forms', () => {
    const source = 'reward r { acc   (0.5) =answer{ x = 1 }, len 0.5 = length { max = 256 tokens } }\nmodel M { layers 1 ..  n-1 {} }\npipeline p {a->b,c->d,}\npipeline q {}';
    expect(format(source).text).toBe(
      'reward r {\n  acc (0.5) = answer { x = 1 }\n  len 0.5 = length { max = 256 tokens }\n}\n\nmodel M {\n  layers 1..n - 1 {}\n}\n\npipeline p { a -> b, c -> d }\n\npipeline q {}\n',
    );
  });

  it('does not throw on a long operator chain', () => {
    const source = `const X = ${Array.from({ length: 900 }, (_, i) => String(i)).join('+')}\n`;
    expectWellFormatted(source);
  });

  it('formats the LANGUAGE.md examples to the expected layout', () => {
    expect(format(languageFixture)).toEqual({ text: languageExpected, changed: true });
    expectWellFormatted(languageFixture);
  });

  it('gives the same output whatever the whitespace between tokens', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const variant = reshuffle(languageFixture, seed);
      expect(variant).not.toBe(languageFixture);
      expect(format(variant).text).toBe(languageExpected);
    }
  });

  it('keeps comments inserted anywhere between tokens', () => {
    let inserted = 0;
    const addComment = (gap: string, next: () => number): string => {
      if (next() > 0.08) return '';
      inserted++;
      return gap.includes('\n') && next() < 0.5 ? ` // c${inserted}` : ` /* c${inserted} */ `;
    };
    for (let seed = 1; seed <= 40; seed++) {
      const variant = reshuffle(languageFixture, seed, addComment);
      expect(format(variant).changed).toBe(true);
      expectWellFormatted(variant);
    }
    expect(inserted).toBeGreaterThan(100);
  });

  it('formats every example idempotently and without changing its meaning', () => {
    const examples = existsSync(examplesDir) ? readdirSync(examplesDir).filter((f) => f.endsWith('.moe')) : [];
    const sources = [languageFixture, ...examples.map((f) => readFileSync(`${examplesDir}${f}`, 'utf8'))];
    for (const source of sources) expectWellFormatted(source);
  });
});
