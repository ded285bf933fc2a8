/**
 * Which letters count as written in a target language: a small table from language codes (and
 * script names) to Unicode scripts. It uses Script_Extensions, so marks shared between scripts
 * (the Japanese `ー`, the Arabic comma) count for every script that uses them. Languages sharing a
 * script are indistinguishable here: `en` and `fr` both mean Latin letters.
 */
import { RuntimeError } from '../../errors.js';

const SCRIPTS: Readonly<Record<string, readonly string[]>> = {
  latin: ['Latin'],
  cyrillic: ['Cyrillic'],
  han: ['Han'],
  arabic: ['Arabic'],
  hebrew: ['Hebrew'],
  greek: ['Greek'],
  devanagari: ['Devanagari'],
  thai: ['Thai'],
  hangul: ['Hangul'],
  kana: ['Hiragana', 'Katakana'],
};

const LANGUAGES: Readonly<Record<string, string>> = {
  en: 'latin', fr: 'latin', de: 'latin', es: 'latin', it: 'latin', pt: 'latin', nl: 'latin', pl: 'latin',
  tr: 'latin', vi: 'latin', id: 'latin',
  ru: 'cyrillic', uk: 'cyrillic', bg: 'cyrillic', sr: 'cyrillic',
  zh: 'han', ar: 'arabic', fa: 'arabic', he: 'hebrew', el: 'greek', hi: 'devanagari', th: 'thai',
};

/** Japanese mixes kanji and kana; Korean is Hangul, with occasional Hanja. */
const MIXED: Readonly<Record<string, readonly string[]>> = {
  ja: ['Han', 'Hiragana', 'Katakana'],
  ko: ['Hangul', 'Han'],
};

export function knownTargets(): string[] {
  return [...Object.keys(LANGUAGES), ...Object.keys(MIXED), ...Object.keys(SCRIPTS)].sort();
}

/** A regular expression matching one letter of the target's scripts. */
export function scriptLetter(target: string): RegExp {
  const key = target.toLowerCase();
  const scripts = MIXED[key] ?? SCRIPTS[LANGUAGES[key] ?? key];
  if (!scripts) {
    throw new RuntimeError(`language_consistency: unknown target \`${target}\``, `use one of ${knownTargets().join(', ')}`);
  }
  return new RegExp(`^(?:${scripts.map((s) => `\\p{scx=${s}}`).join('|')})$`, 'u');
}
