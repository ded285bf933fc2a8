/**
 * The one ordered token vocabulary of the `.moe` language. The lexer, the parser, the formatter and
 * the editor's TextMate grammar are all derived from this file; the order below is the lexer's
 * matching order (comments and literals before punctuation, keywords before `Identifier`).
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

// ── categories ────────────────────────────────────────────────────────────────────────────────
/** Anything usable as a name: identifiers and the soft keywords (block kinds, units, `layers`). */
export const Name = createToken({ name: 'Name', pattern: Lexer.NA });
/** Top-level block kinds: `model`, `data`, … (soft: also valid field names, e.g. `model = X`). */
export const BlockKind = createToken({ name: 'BlockKind', pattern: Lexer.NA });
/** Units that may follow a number literal on the same line: `2000 steps`, `80GiB`, `2s`. */
export const Unit = createToken({ name: 'Unit', pattern: Lexer.NA });
/** Reserved words that can never be names. */
export const Keyword = createToken({ name: 'Keyword', pattern: Lexer.NA });

// ── trivia ────────────────────────────────────────────────────────────────────────────────────
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\uFEFF]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const BlockComment = createToken({
  name: 'BlockComment',
  pattern: /\/\*[\s\S]*?\*\//,
  group: 'comments',
  line_breaks: true,
});

/** An unclosed block comment: lexed as one token so the error is one clear diagnostic. */
export const UnclosedComment = createToken({
  name: 'UnclosedComment',
  pattern: /\/\*[\s\S]*/,
  group: 'errors',
  line_breaks: true,
});

// ── literals ──────────────────────────────────────────────────────────────────────────────────
/** `r"..."` or `r#"..."#`: backslashes are literal, for regular expressions. */
export const RawString = createToken({ name: 'RawString', pattern: /r#"[^]*?"#|r"[^"\n\r]*"/, line_breaks: true });
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /"(?:[^"\\\n\r]|\\.)*"/ });
/** A string or raw string without its closing quote on the line. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /r?"(?:[^"\\\n\r]|\\.)*/,
  group: 'errors',
});
/**
 * `4096`, `4_096`, `3e-4`, `0.1`, count suffixes `14.8T` (K M B T = 10^3…10^12, only when no letter
 * follows, so `80TB` lexes as 80 + the unit TB), and an attached percent `80%`.
 */
export const NumberLiteral = createToken({
  name: 'NumberLiteral',
  pattern: /\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?(?:[KMBT](?![A-Za-z0-9_]))?%?/,
});

// ── punctuation ───────────────────────────────────────────────────────────────────────────────
export const Arrow = createToken({ name: 'Arrow', pattern: /->/, label: '`->`' });
export const DotDot = createToken({ name: 'DotDot', pattern: /\.\./, label: '`..`' });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: '`.`' });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: '`{`' });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: '`}`' });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: '`[`' });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: '`]`' });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: '`(`' });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: '`)`' });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: '`,`' });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: '`=`' });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: '`+`' });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: '`-`' });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: '`*`' });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: '`/`' });
export const Modulo = createToken({ name: 'Modulo', pattern: /%/, label: '`%`' });

// ── identifiers and keywords ──────────────────────────────────────────────────────────────────
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, categories: [Name] });

function keyword(word: string, categories: TokenType[]): TokenType {
  const name = `Kw_${word}`;
  return createToken({
    name,
    pattern: new RegExp(word),
    longer_alt: Identifier,
    categories,
    label: `\`${word}\``,
  });
}

/** Reserved: never names. */
export const RESERVED_WORDS = ['import', 'const', 'extends', 'true', 'false', 'none'] as const;
/** Top-level block kinds (soft keywords). */
export const BLOCK_KINDS = [
  'cluster',
  'data',
  'tokenizer',
  'model',
  'reward',
  'pretrain',
  'sft',
  'grpo',
  'sample',
  'generate',
  'eval',
] as const;
export type BlockKindName = (typeof BLOCK_KINDS)[number];
export type StageKindName = 'pretrain' | 'sft' | 'grpo' | 'sample' | 'generate' | 'eval';
export const STAGE_KINDS: readonly StageKindName[] = ['pretrain', 'sft', 'grpo', 'sample', 'generate', 'eval'];

/** Units (soft keywords), each with its dimension and factor to the dimension's base unit. */
export const UNITS = {
  step: { dim: 'steps', factor: 1 },
  steps: { dim: 'steps', factor: 1 },
  token: { dim: 'tokens', factor: 1 },
  tokens: { dim: 'tokens', factor: 1 },
  epoch: { dim: 'epochs', factor: 1 },
  epochs: { dim: 'epochs', factor: 1 },
  sequence: { dim: 'sequences', factor: 1 },
  sequences: { dim: 'sequences', factor: 1 },
  prompt: { dim: 'prompts', factor: 1 },
  prompts: { dim: 'prompts', factor: 1 },
  KiB: { dim: 'bytes', factor: 2 ** 10 },
  MiB: { dim: 'bytes', factor: 2 ** 20 },
  GiB: { dim: 'bytes', factor: 2 ** 30 },
  TiB: { dim: 'bytes', factor: 2 ** 40 },
  KB: { dim: 'bytes', factor: 1e3 },
  MB: { dim: 'bytes', factor: 1e6 },
  GB: { dim: 'bytes', factor: 1e9 },
  TB: { dim: 'bytes', factor: 1e12 },
  bytes: { dim: 'bytes', factor: 1 },
  FLOPs: { dim: 'flops', factor: 1 },
  GFLOPs: { dim: 'flops', factor: 1e9 },
  TFLOPs: { dim: 'flops', factor: 1e12 },
  PFLOPs: { dim: 'flops', factor: 1e15 },
  ms: { dim: 'seconds', factor: 1e-3 },
  s: { dim: 'seconds', factor: 1 },
  min: { dim: 'seconds', factor: 60 },
  h: { dim: 'seconds', factor: 3600 },
} as const;
export type UnitName = keyof typeof UNITS;
export type Dimension = (typeof UNITS)[UnitName]['dim'];

/** Soft keywords: special in one position, ordinary names elsewhere (`pipeline = 4` in a parallel plan). */
export const SOFT_KEYWORDS = ['layers', 'pipeline'] as const;

const reservedTokens = RESERVED_WORDS.map((w) => keyword(w, [Keyword]));
const blockKindTokens = BLOCK_KINDS.map((w) => keyword(w, [BlockKind, Name]));
const unitTokens = Object.keys(UNITS).map((w) => keyword(w, [Unit, Name]));
const softTokens = SOFT_KEYWORDS.map((w) => keyword(w, [Name]));

function byWord(word: string): TokenType {
  const found = [...reservedTokens, ...blockKindTokens, ...unitTokens, ...softTokens].find(
    (t) => t.name === `Kw_${word}`,
  );
  if (!found) throw new Error(`no keyword ${word}`);
  return found;
}

export const Import = byWord('import');
export const Const = byWord('const');
export const Extends = byWord('extends');
export const Pipeline = byWord('pipeline');
export const True = byWord('true');
export const False = byWord('false');
export const None = byWord('none');
export const Layers = byWord('layers');

/** Longest first, so `steps` is tried before `s` and `min` before `ms`. */
const keywordTokens = [...reservedTokens, ...blockKindTokens, ...unitTokens, ...softTokens].sort(
  (a, b) => String(b.name).length - String(a.name).length,
);

/** The ordered vocabulary. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnclosedComment,
  RawString,
  StringLiteral,
  UnterminatedString,
  NumberLiteral,
  Arrow,
  DotDot,
  Dot,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  LParen,
  RParen,
  Comma,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Modulo,
  ...keywordTokens,
  Identifier,
  Name,
  BlockKind,
  Unit,
  Keyword,
];

/** Words for the editor grammar, grouped by role. */
export const vocabulary = {
  reserved: RESERVED_WORDS,
  blockKinds: [...BLOCK_KINDS, 'pipeline'],
  units: Object.keys(UNITS) as UnitName[],
  soft: SOFT_KEYWORDS,
} as const;

export const lexer = new Lexer(allTokens, { ensureOptimizations: false, positionTracking: 'full' });
