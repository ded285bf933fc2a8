/**
 * Parse errors as data. Chevrotain asks an error-message provider for a string; ours encodes the
 * expected and found descriptions as JSON so the compiler can build a coded diagnostic from them.
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF } from 'chevrotain';

export interface ParseErrorParts {
  readonly expected: string;
  readonly found: string;
}

/** What a rule expects, in words, when no alternative matched. */
const RULE_EXPECTATIONS: Record<string, string> = {
  file: '`import`, `const`, `pipeline` or a block such as `model NAME { ... }`',
  topItem: '`import`, `const`, `pipeline` or a block such as `model NAME { ... }`',
  member: 'a field `name = value` or a block `name { ... }`',
  primary: 'a value',
  unary: 'a value',
  expression: 'a value',
  additive: 'a value',
  multiplicative: 'a value',
  nameExpr: '`{`, `(` or `.`',
};

export function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return 'end of file';
  return `\`${token.image}\``;
}

function describeType(type: TokenType): string {
  if (type.LABEL) return type.LABEL;
  switch (type.name) {
    case 'Name':
      return 'a name';
    case 'NumberLiteral':
      return 'a number';
    case 'StringLiteral':
      return 'a string';
    case 'Unit':
      return 'a unit';
    default:
      return type.name;
  }
}

function encode(parts: ParseErrorParts): string {
  return JSON.stringify(parts);
}

export function decodeParseError(message: string): ParseErrorParts {
  try {
    const parsed = JSON.parse(message) as Partial<ParseErrorParts>;
    if (typeof parsed.expected === 'string' && typeof parsed.found === 'string') {
      return { expected: parsed.expected, found: parsed.found };
    }
  } catch {
    // fall through: a message we did not build
  }
  return { expected: 'something else', found: message };
}

function alternatives(paths: TokenType[][][]): string {
  const firsts = new Set<string>();
  for (const alt of paths) for (const path of alt) if (path[0]) firsts.add(describeType(path[0]));
  const list = [...firsts];
  if (list.length <= 1) return list[0] ?? 'something else';
  return `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

export const errorMessageProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual }) {
    return encode({ expected: describeType(expected), found: describeToken(actual) });
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return encode({ expected: RULE_EXPECTATIONS.topItem!, found: describeToken(firstRedundant) });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const expected = RULE_EXPECTATIONS[ruleName] ?? alternatives(expectedPathsPerAlt);
    return encode({ expected, found: describeToken(actual[0]!) });
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const expected = RULE_EXPECTATIONS[ruleName] ?? alternatives([expectedIterationPaths]);
    return encode({ expected, found: describeToken(actual[0]!) });
  },
};
