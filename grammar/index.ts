export * as tokens from './tokens.js';
export { lexer, vocabulary, UNITS, BLOCK_KINDS, STAGE_KINDS } from './tokens.js';
export type { BlockKindName, StageKindName, UnitName, Dimension } from './tokens.js';
export { parser, MoeParser } from './parser.js';
export { decodeParseError, type ParseErrorParts } from './errors.js';
