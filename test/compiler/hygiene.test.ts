/**
 * Issue 19, CLI hygiene: `scale = none` as docs/language.md writes it, and an unclosed block
 * reported where it opens. On 557c2c5 `scale = none` was refused with MOE3001 and a missing `}` was
 * reported at the end of the file, far from the block it leaves open.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lowerSpec } from '../../compiler/lower/index.js';
import { checkText } from '../helpers.js';

const r1 = readFileSync(new URL('../../examples/r1-tiny.moe', import.meta.url), 'utf8');

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
