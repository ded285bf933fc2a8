/** The extension's declarative parts: manifest, language configuration, snippets. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkText } from '../helpers.js';

const dir = join(import.meta.dirname, '..', '..', 'editors', 'vscode');
const json = <T>(path: string): T => JSON.parse(readFileSync(join(dir, path), 'utf8')) as T;

interface Manifest {
  main: string;
  engines: { vscode: string };
  activationEvents: string[];
  contributes: {
    languages: { id: string; extensions: string[]; configuration: string }[];
    grammars: { language: string; scopeName: string; path: string }[];
    snippets: { language: string; path: string }[];
    jsonValidation: { fileMatch: string; url: string }[];
    commands: { command: string }[];
  };
}

const manifest = json<Manifest>('package.json');

describe('extension manifest', () => {
  it('contributes the language, its configuration, grammar and snippets, all present', () => {
    const { languages, grammars, snippets } = manifest.contributes;
    expect(languages).toEqual([expect.objectContaining({ id: 'moe', extensions: ['.moe'], configuration: './language-configuration.json' })]);
    expect(grammars).toEqual([{ language: 'moe', scopeName: 'source.moe', path: './syntaxes/moe.tmLanguage.json' }]);
    expect(json<{ scopeName: string }>(grammars[0]!.path).scopeName).toBe('source.moe');
    expect(existsSync(join(dir, languages[0]!.configuration))).toBe(true);
    expect(existsSync(join(dir, snippets[0]!.path))).toBe(true);
  });

  it('validates IR graphs with the compiler\'s schema, copied at package time', () => {
    expect(manifest.contributes.jsonValidation).toEqual([{ fileMatch: '*.graph.json', url: './schemas/graph.schema.json' }]);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^schemas\/$/m);
  });

  it('starts the bundled client for .moe files; the bundles and .vsix stay out of git', () => {
    expect(manifest.main).toBe('./dist/extension.js');
    expect(manifest.activationEvents).toEqual(['onLanguage:moe']);
    expect(manifest.engines.vscode).toBe('^1.91.0');
    expect(manifest.contributes.commands.map((c) => c.command)).toEqual(['moe.explain', 'moe.restartServer']);
    const ignored = readFileSync(join(dir, '.gitignore'), 'utf8');
    expect(ignored).toMatch(/^dist\/$/m);
    expect(ignored).toMatch(/^\*\.vsix$/m);
    expect(ignored).toMatch(/^e2e-output\/$/m);
  });
});

describe('language configuration', () => {
  const config = json<{
    comments: { lineComment: string; blockComment: [string, string] };
    brackets: [string, string][];
    autoClosingPairs: { open: string; close: string }[];
    indentationRules: { increaseIndentPattern: string; decreaseIndentPattern: string };
    folding: { markers: { start: string; end: string } };
    wordPattern: string;
  }>('language-configuration.json');

  it('comments and brackets as the lexer has them', () => {
    expect(config.comments).toEqual({ lineComment: '//', blockComment: ['/*', '*/'] });
    expect(config.brackets).toEqual([
      ['{', '}'],
      ['[', ']'],
      ['(', ')'],
    ]);
    expect(config.autoClosingPairs.map((p) => p.open)).toEqual(['{', '[', '(', '"', '/*']);
  });

  it('indents after an opening brace, outdents at a closing one, ignoring braces in comments', () => {
    const increase = new RegExp(config.indentationRules.increaseIndentPattern);
    const decrease = new RegExp(config.indentationRules.decreaseIndentPattern);
    expect(increase.test('model A {')).toBe(true);
    expect(increase.test('  decay = [')).toBe(true);
    expect(increase.test('  init { std = 0.02 }')).toBe(false);
    expect(increase.test('// model A {')).toBe(false);
    expect(decrease.test('  }')).toBe(true);
    expect(decrease.test('  dim = 4')).toBe(false);
    expect(new RegExp(config.folding.markers.start).test('// region experts')).toBe(true);
  });

  it('a word is a name or a whole number with its suffix', () => {
    const word = new RegExp(`^(?:${config.wordPattern})$`);
    for (const w of ['top_k', 'DeepSeekV3', '14.8T', '4_096', '3e-4', '80%']) expect(word.test(w)).toBe(true);
  });
});

describe('snippets', () => {
  const snippets = json<Record<string, { prefix: string; body: string[] }>>('snippets/moe.json');
  /** A snippet as inserted with every placeholder left at its default. */
  const expand = (name: string): string =>
    snippets[name]!.body.join('\n')
      .replace(/\$\{\d+\|([^,|]+)[^|]*\|\}/g, '$1')
      .replace(/\$\{\d+:([^}]*)\}/g, '$1')
      .replace(/\$\d+/g, '')
      .replace(/\t/g, '  ');

  it('a model, a MoE block, a reward and a GRPO stage', () => {
    expect(Object.values(snippets).map((s) => s.prefix)).toEqual(['model', 'moe', 'reward', 'grpo']);
  });

  it('each expands to a spec that checks clean', () => {
    const model = expand('MoE model');
    expect(checkText(model).diagnostics).toEqual([]);
    const withMoe = model.replace(/moe \{[\s\S]*?\n {4}\}\n/, `${expand('MoE layer block').replace(/\n/g, '\n    ')}\n`);
    expect(withMoe).toContain('top_groups = 4');
    expect(checkText(withMoe).diagnostics).toEqual([]);
    expect(checkText(expand('Reward')).diagnostics).toEqual([]);
    // checked as text, with no folder to read its data files from: generated data stands in for them
    const tiny = readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'r1-tiny.moe'), 'utf8').replace(/source = "data\/r1-tiny\/\w+\.jsonl"/g, 'synthetic = arithmetic { }');
    const grpo = expand('GRPO stage').replace('grpo reason', 'grpo again').replace('prompts = prompts', 'prompts = questions')
      // the tiny model's context is 64 tokens
      .replace('max_new_tokens = 1024', 'max_new_tokens = 16');
    const result = checkText(`${tiny}\n${grpo}`);
    expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  });
});
