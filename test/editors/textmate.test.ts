/**
 * The generated TextMate grammar, run by vscode-textmate with the oniguruma WASM as VS Code runs it:
 * every example tokenizes without an invalid token, and keywords, units, numbers, strings, raw
 * strings and comments get their scopes, also on tricky lines.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scopesOf, tokenize } from './tokenize.js';

const examplesDir = join(import.meta.dirname, '..', '..', 'examples');

describe('every example tokenizes cleanly', () => {
  for (const name of readdirSync(examplesDir).filter((f) => f.endsWith('.moe'))) {
    it(name, async () => {
      const lines = await tokenize(readFileSync(join(examplesDir, name), 'utf8'));
      const invalid = lines.flatMap((tokens, i) => tokens.filter((t) => t.scopes.some((s) => s.startsWith('invalid'))).map((t) => `${i + 1}: ${t.text}`));
      expect(invalid).toEqual([]);
      // every non-blank character is inside some scope of the language, not left to the root
      const bare = lines.flatMap((tokens, i) => tokens.filter((t) => t.text.trim() !== '' && t.scopes.length === 1).map((t) => `${i + 1}: ${t.text}`));
      expect(bare).toEqual([]);
    });
  }
});

describe('scopes', () => {
  it('declarations: block kinds, names, extends, const, import, pipeline', async () => {
    expect(await scopesOf('model Big extends Small {')).toEqual([
      ['model', 'storage.type.block.moe'],
      ['Big', 'entity.name.type.moe'],
      ['extends', 'keyword.other.extends.moe'],
      ['Small', 'entity.other.inherited-class.moe'],
      ['{', 'punctuation.section.block.begin.moe'],
    ]);
    expect(await scopesOf('const D = 64')).toEqual([
      ['const', 'storage.type.const.moe'],
      ['D', 'variable.other.constant.moe'],
      ['=', 'keyword.operator.assignment.moe'],
      ['64', 'constant.numeric.moe'],
    ]);
    expect((await scopesOf('import "common.moe"'))[0]).toEqual(['import', 'keyword.control.import.moe']);
    expect(await scopesOf('pipeline r1 { a -> b }')).toEqual([
      ['pipeline', 'storage.type.pipeline.moe'],
      ['r1', 'entity.name.type.pipeline.moe'],
      ['{', 'punctuation.section.block.begin.moe'],
      ['a', 'variable.other.moe'],
      ['->', 'keyword.operator.arrow.moe'],
      ['b', 'variable.other.moe'],
      ['}', 'punctuation.section.block.end.moe'],
    ]);
  });

  it('soft keywords used as field names stay fields: `pipeline = 16`, `model = X`, `layers = 61`, `steps = 300`', async () => {
    for (const word of ['pipeline', 'model', 'layers', 'steps', 'data', 's']) {
      expect((await scopesOf(`  ${word} = 16`))[0]).toEqual([word, 'variable.other.property.moe']);
    }
    expect(await scopesOf('parallel { data = 128, tensor = 1, pipeline = 16, expert = 64 }')).toContainEqual(['pipeline', 'variable.other.property.moe']);
  });

  it('units attached and spaced, only after a number on the same line', async () => {
    expect(await scopesOf('memory = 80GiB')).toEqual([
      ['memory', 'variable.other.property.moe'],
      ['=', 'keyword.operator.assignment.moe'],
      ['80', 'constant.numeric.moe'],
      ['GiB', 'keyword.other.unit.moe'],
    ]);
    expect((await scopesOf('warmup = 2000 steps')).slice(2)).toEqual([
      ['2000', 'constant.numeric.moe'],
      ['steps', 'keyword.other.unit.moe'],
    ]);
    expect((await scopesOf('steps = 14.8T tokens')).slice(2)).toEqual([
      ['14.8T', 'constant.numeric.moe'],
      ['tokens', 'keyword.other.unit.moe'],
    ]);
    // `80TB` is 80 terabytes: the count suffix T only counts when no letter follows
    expect((await scopesOf('x = 80TB')).slice(2)).toEqual([
      ['80', 'constant.numeric.moe'],
      ['TB', 'keyword.other.unit.moe'],
    ]);
    expect((await scopesOf('timeout = 2s, peak = 989 TFLOPs')).filter(([, s]) => s.includes('unit'))).toEqual([
      ['s', 'keyword.other.unit.moe'],
      ['TFLOPs', 'keyword.other.unit.moe'],
    ]);
    // a word that merely starts like a unit is not one
    expect((await scopesOf('x = 2 stepsize'))[3]).toEqual(['stepsize', 'variable.other.moe']);
    // a unit on the next line is a field, as the parser reads it
    const lines = await tokenize('batch = 32\nsteps = 2000');
    expect(lines[1]![0]).toMatchObject({ text: 'steps', scopes: ['source.moe', 'variable.other.property.moe'] });
  });

  it('numbers: separators, exponents, suffixes, percentages and ranges', async () => {
    for (const n of ['4_096', '3e-4', '1e-3', '0.1', '14.8T', '80%', '1.5']) {
      expect(await scopesOf(`x = ${n}`)).toContainEqual([n, 'constant.numeric.moe']);
    }
    expect(await scopesOf('layers 3..60 {')).toEqual([
      ['layers', 'keyword.other.layers.moe'],
      ['3', 'constant.numeric.moe'],
      ['..', 'keyword.operator.range.moe'],
      ['60', 'constant.numeric.moe'],
      ['{', 'punctuation.section.block.begin.moe'],
    ]);
    expect(await scopesOf('decay = [67% -> 0.1, 98% -> 0.0333]')).toContainEqual(['67%', 'constant.numeric.moe']);
    expect(await scopesOf('x = a % b')).toContainEqual(['%', 'keyword.operator.arithmetic.moe']);
  });

  it('strings, escapes and raw strings', async () => {
    const [tokens] = await tokenize('prompt = "say \\"hi\\"\\n"');
    expect(tokens!.filter((t) => t.scopes.includes('string.quoted.double.moe')).map((t) => t.text).join('')).toBe('"say \\"hi\\"\\n"');
    expect(tokens!.filter((t) => t.scopes.includes('constant.character.escape.moe')).map((t) => t.text)).toEqual(['\\"', '\\"', '\\n']);
    const raw = await tokenize('pattern = r"^<think>[\\s\\S]*</think>$"');
    expect(raw[0]!.filter((t) => t.scopes.includes('string.quoted.raw.moe')).map((t) => t.text).join('')).toBe('r"^<think>[\\s\\S]*</think>$"');
    const hashed = await tokenize('pattern = r#"say "hi" \\d"# // done');
    expect(hashed[0]!.filter((t) => t.scopes.includes('string.quoted.raw.moe')).map((t) => t.text).join('')).toBe('r#"say "hi" \\d"#');
    expect(hashed[0]!.at(-1)!.scopes).toContain('comment.line.double-slash.moe');
    // a raw string may span lines
    const multi = await tokenize('p = r#"line one\nline "two""#, x = 1');
    expect(multi[1]![0]!.scopes).toContain('string.quoted.raw.moe');
    expect(multi[1]!.at(-1)).toMatchObject({ text: '1', scopes: ['source.moe', 'constant.numeric.moe'] });
    // `for"` is a name and a string, not a raw string
    expect((await scopesOf('x = for"y"'))[2]).toEqual(['for', 'variable.other.moe']);
  });

  it('comments in odd places', async () => {
    expect(await scopesOf('dim = 64 // 64 GiB model = X')).toEqual([
      ['dim', 'variable.other.property.moe'],
      ['=', 'keyword.operator.assignment.moe'],
      ['64', 'constant.numeric.moe'],
      ['//', 'punctuation.definition.comment.moe'],
      [' 64 GiB model = X', 'comment.line.double-slash.moe'],
    ]);
    expect(await scopesOf('x = /* "not a string" */ 4')).toContainEqual(['4', 'constant.numeric.moe']);
    // a block comment across lines hides what looks like a declaration, and ends where it ends
    const lines = await tokenize('model /* a\n  model B { } */ A {');
    const second = lines[1]!.filter((t) => t.text.trim() !== '');
    expect(second.filter((t) => t.scopes.includes('comment.block.moe')).map((t) => t.text).join('')).toBe('  model B { } */');
    expect(second.find((t) => t.text === 'A')!.scopes).not.toContain('comment.block.moe');
    expect(await scopesOf('prompt = "// not a comment"')).toContainEqual(['// not a comment', 'string.quoted.double.moe']);
  });

  it('variants, rules and functions', async () => {
    expect(await scopesOf('attention mla {')).toEqual([
      ['attention', 'variable.other.property.moe'],
      ['mla', 'entity.name.tag.variant.moe'],
      ['{', 'punctuation.section.block.begin.moe'],
    ]);
    expect((await scopesOf('balance = bias { rate = 1e-3 }'))[2]).toEqual(['bias', 'entity.name.tag.variant.moe']);
    expect((await scopesOf('  accuracy 0.6 = answer { compare = numeric }')).slice(0, 4)).toEqual([
      ['accuracy', 'variable.other.property.moe'],
      ['0.6', 'constant.numeric.moe'],
      ['=', 'keyword.operator.assignment.moe'],
      ['answer', 'entity.name.tag.variant.moe'],
    ]);
    expect(await scopesOf('hidden = max(4 * dim, 64)')).toContainEqual(['max', 'support.function.moe']);
    expect(await scopesOf('normalize = true, capacity = none')).toEqual(
      expect.arrayContaining([
        ['true', 'constant.language.boolean.moe'],
        ['none', 'constant.language.none.moe'],
      ]),
    );
  });

  it('what the lexer rejects is invalid', async () => {
    expect(await scopesOf('dim = 64 # a YAML comment')).toContainEqual(['#', 'invalid.illegal.character.moe']);
    expect(await scopesOf('prompt = "no end')).toContainEqual(['"no end', 'invalid.illegal.unterminated-string.moe']);
    expect(await scopesOf('x = "bad \\q escape"')).toContainEqual(['\\q', 'invalid.illegal.escape.moe']);
    expect(await scopesOf('x = “smart”')).toContainEqual(['“', 'invalid.illegal.character.moe']);
  });
});
