/**
 * The language service: editor features as pure functions over the compiler (`analyze` once, then
 * ask), and `LanguageService`, which keeps open buffers and guards every request. Positions are
 * character offsets; `LineIndex` converts to and from 0-based lines and characters.
 */
export { analyze, type Analysis } from './analysis.js';
export { completions } from './completion.js';
export { documentDiagnostics } from './diagnostics.js';
export { foldingRanges, type FoldingRange } from './folding.js';
export { formatDocument } from './formatting.js';
export { guard, type ErrorSink } from './guard.js';
export { overlayHost } from './host.js';
export { hover } from './hover.js';
export { definition, references } from './navigation.js';
export { LineIndex } from './positions.js';
export { quickFixes, suggestions } from './quick-fixes.js';
export { LanguageService, type LanguageServiceOptions } from './service.js';
export { documentSymbols } from './symbols.js';
export type * from './types.js';
