/** Mutation strategies over spec texts, shared by the front-end and language-service fuzz tests. */
import fc from 'fast-check';

export function mutations(texts: readonly string[]) {
  const example = fc.constantFrom(...texts);
  return {
    example,
    deleteSpan: fc.tuple(example, fc.nat(), fc.integer({ min: 1, max: 40 })).map(([text, at, len]) => {
      const start = at % text.length;
      return text.slice(0, start) + text.slice(start + len);
    }),
    swapTokens: fc.tuple(example, fc.nat(), fc.nat()).map(([text, a, b]) => {
      const tokens = text.split(/(\s+)/);
      const i = a % tokens.length;
      const j = b % tokens.length;
      [tokens[i], tokens[j]] = [tokens[j]!, tokens[i]!];
      return tokens.join('');
    }),
    insertJunk: fc.tuple(example, fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 })).map(([text, at, junk]) => {
      const i = at % text.length;
      return text.slice(0, i) + junk + text.slice(i);
    }),
  };
}
