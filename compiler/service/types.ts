/**
 * The language service's own data types. They carry character offsets into the document (UTF-16
 * code units, as JavaScript strings and LSP index) and, for places in other files, a line/character
 * range too, so the service stays independent of the LSP types and of any editor.
 */
import type { Code, Severity } from '../diagnostics/catalog.js';

/** A half-open offset range `[start, end)` in one document. */
export interface TextRange {
  readonly start: number;
  readonly end: number;
}

/** 0-based line and character (UTF-16 code units), as LSP counts them. */
export interface LinePosition {
  readonly line: number;
  readonly character: number;
}

export interface LineRange {
  readonly start: LinePosition;
  readonly end: LinePosition;
}

/** A place in any file of the program (the document or a file it imports). */
export interface Location extends TextRange {
  readonly file: string;
  readonly range: LineRange;
}

export interface ServiceDiagnostic extends TextRange {
  readonly code: Code;
  readonly severity: Severity;
  /** the message, then the label, notes and help on lines of their own */
  readonly message: string;
  /** the catalog's long explanation (what `moe explain CODE` prints) */
  readonly explain: string;
  readonly help?: string;
  readonly related: readonly (Location & { readonly message: string })[];
  /** a warning about something unused, shown faded by editors */
  readonly unnecessary: boolean;
  /** where the diagnostic really is, when it belongs to an imported file and is shown on the import */
  readonly origin?: Location;
}

export interface HoverResult extends TextRange {
  readonly markdown: string;
}

export type CompletionKind = 'keyword' | 'field' | 'block' | 'variant' | 'value' | 'reference' | 'const' | 'unit' | 'rule' | 'snippet';

export interface CompletionItem {
  readonly label: string;
  readonly kind: CompletionKind;
  /** one line, e.g. the field's type */
  readonly detail?: string;
  readonly documentation?: string;
  /** text to insert; a snippet (`$1`, `${1|a,b|}`, `$0`) when `snippet` is true */
  readonly insertText: string;
  readonly snippet: boolean;
  /** what the insertion replaces: the word being typed, or an empty range at the cursor */
  readonly replace: TextRange;
  readonly sortText?: string;
}

export type SymbolKind = 'model' | 'stage' | 'resource' | 'reward' | 'const' | 'pipeline' | 'import' | 'field' | 'block' | 'layers' | 'rule';

export interface DocumentSymbol {
  readonly name: string;
  readonly detail: string;
  readonly kind: SymbolKind;
  /** the whole construct */
  readonly range: TextRange;
  /** its name */
  readonly selection: TextRange;
  readonly children: readonly DocumentSymbol[];
}

export interface TextEdit extends TextRange {
  readonly newText: string;
}

export interface QuickFix {
  readonly title: string;
  readonly diagnostic: ServiceDiagnostic;
  readonly edit: TextEdit;
  readonly preferred: boolean;
}
