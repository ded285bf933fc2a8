/**
 * Issue 19, CLI hygiene: `scale = none` as docs/language.md writes it, and an unclosed block
 * reported where it opens. On 557c2c5 `scale = none` was refused with MOE3001 and a missing `}` was
 * reported at the end of the file, far from the block it leaves open.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../compiler/check/index.js';
import { lowerSpec } from '../../compiler/lower/index.js';
import { checkText as checkAlone, exampleData, exampleSpec } from '../helpers.js';

const r1 = exampleSpec('r1-tiny.moe');
/** r1-tiny's variants are checked next to the data files it reads, so that only the edit can be wrong */
const checkText = (text: string): CheckResult => checkAlone(text, exampleData());

describe('scale = none (Dr. GRPO), as the docs write it', () => {
  it('checks clean and lowers to scale "none"', () => {
    const docs = readFileSync(new URL('../../docs/language.md', import.meta.url), 'utf8');
    expect(docs).toContain('`scale = none`');
    expect(r1).toContain('  loss = grpo\n');
    const result = checkText(r1.replace('  loss = grpo\n', '  loss = grpo\n  scale = none\n'));
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const document = lowerSpec(result, '/mem');
    expect(JSON.stringify(document.plan)).toContain('"scale":"none"');
  });

  it('still refuses `none` for a setting that does not list it', () => {
    const result = checkText(r1.replace('  loss = grpo\n', '  loss = none\n'));
    expect(result.diagnostics.some((d) => d.severity === 'error')).toBe(true);
  });
});

describe('a block whose `}` is missing', () => {
  const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

  it('is reported at its `{`, with the line where it should have closed, not at the end of the file', () => {
    const open = r1.indexOf('grpo reason {');
    const close = r1.indexOf('\n}\n', open);
    const text = `${r1.slice(0, close)}\n${r1.slice(close + 3)}`;
    const errors = checkText(text).diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error!.code).toBe('MOE1002');
    expect(text.slice(error!.span.start, error!.span.end)).toBe('{');
    expect(lineOf(text, error!.span.start)).toBe(lineOf(text, open));
    expect(error!.label).toBe('this block is never closed');
    const next = text.indexOf('eval after_reason {');
    expect(error!.related[0]!.span.start).toBe(next);
    expect(error!.help).toBe(`add \`}\` before line ${lineOf(text, next)}`);
  });

  it('points at an inner block left open on its line, and keeps real errors inside the block', () => {
    expect(r1).toContain('  optimizer adamw { lr = 2e-3 }\n}\n');
    const text = r1.replace('  optimizer adamw { lr = 2e-3 }\n}\n', '  kl = = 3\n  optimizer adamw { lr = 2e-3\n}\n');
    const errors = checkText(text).diagnostics.filter((d) => d.severity === 'error');
    const opened = text.indexOf('adamw { lr = 2e-3\n') + 'adamw '.length;
    expect(errors.map((d) => [d.code, d.span.start])).toEqual([
      ['MOE1002', text.indexOf('= = 3') + 2],
      ['MOE1002', opened],
    ]);
  });
});
