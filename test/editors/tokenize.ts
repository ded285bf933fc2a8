/** Test helper: the generated TextMate grammar loaded into vscode-textmate with the oniguruma WASM. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import vsctm from 'vscode-textmate';
import oniguruma from 'vscode-oniguruma';

export interface Token {
  readonly text: string;
  readonly scopes: readonly string[];
}

const require = createRequire(import.meta.url);
const grammarPath = join(import.meta.dirname, '..', '..', 'editors', 'vscode', 'syntaxes', 'moe.tmLanguage.json');

let loaded: Promise<vsctm.IGrammar> | undefined;

async function load(): Promise<vsctm.IGrammar> {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  // loadWASM wants exactly the file's bytes, not the Buffer's whole backing pool
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) =>
      scopeName === 'source.moe' ? vsctm.parseRawGrammar(readFileSync(grammarPath, 'utf8'), grammarPath) : null,
  });
  const grammar = await registry.loadGrammar('source.moe');
  if (!grammar) throw new Error('grammar source.moe did not load');
  return grammar;
}

export function grammar(): Promise<vsctm.IGrammar> {
  loaded ??= load();
  return loaded;
}

/** Every line of `text` as tokens with their scopes (the rule stack carried across lines). */
export async function tokenize(text: string): Promise<Token[][]> {
  const g = await grammar();
  let stack = vsctm.INITIAL;
  return text.split(/\r?\n/).map((line) => {
    const result = g.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

/** The innermost scope of each non-blank token of one line, as `text:scope` pairs, for readable assertions. */
export async function scopesOf(line: string): Promise<[string, string][]> {
  const [tokens] = await tokenize(line);
  return tokens!.filter((t) => t.text.trim() !== '').map((t) => [t.text, t.scopes[t.scopes.length - 1]!]);
}
