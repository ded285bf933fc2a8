import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { documentDiagnostics } from '../../compiler/service/index.js';
import { analyzeExample, analyzeText, examplesDir } from './helpers.js';

describe('document diagnostics', () => {
  for (const name of readdirSync(examplesDir).filter((f) => f.endsWith('.moe'))) {
    it(`${name} has none`, () => {
      expect(documentDiagnostics(analyzeExample(name))).toEqual([]);
    });
  }

  it('an unknown field: its name underlined, help and explanation attached', () => {
    const text = 'cluster c { devices = 8, memroy = 80GiB }';
    const d = documentDiagnostics(analyzeText(text)).find((x) => x.code === 'MOE2009');
    expect(text.slice(d!.start, d!.end)).toBe('memroy');
    expect(d!.help).toBe('did you mean `memory`?');
    expect(d!.message).toContain('help: did you mean `memory`?');
    expect(d!.explain.length).toBeGreaterThan(20);
    expect(d!.severity).toBe('error');
  });

  it('an unused const is a warning marked unnecessary', () => {
    const [d] = documentDiagnostics(analyzeText('const UNUSED = 3\ncluster c { devices = 8, memory = 80GiB }'));
    expect(d).toMatchObject({ code: 'MOE2016', severity: 'warning', unnecessary: true });
  });

  it('a syntax error at the end of the file stays inside the text', () => {
    const text = 'model A {';
    const diagnostics = documentDiagnostics(analyzeText(text));
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics) {
      expect(d.start).toBeGreaterThanOrEqual(0);
      expect(d.end).toBeLessThanOrEqual(text.length);
      expect(d.end).toBeGreaterThan(d.start);
    }
  });

  it('an error in an imported file is shown on the import, pointing at the real place', () => {
    const text = 'import "lib/base.moe"\ncluster c { devices = base_devices, memory = 80GiB }';
    const lib = 'const base_devices = 8\ncluster other { devices = 8, memroy = 1GiB }';
    const diagnostics = documentDiagnostics(analyzeText(text, { 'lib/base.moe': lib }));
    const moved = diagnostics.find((d) => d.code === 'MOE2009')!;
    expect(text.slice(moved.start, moved.end)).toBe('"lib/base.moe"');
    expect(moved.message).toContain('(in lib/base.moe:2:30)');
    expect(moved.origin).toMatchObject({ file: '/mem/lib/base.moe', range: { start: { line: 1, character: 29 } } });
    expect(moved.related[0]!.file).toBe('/mem/lib/base.moe');
  });

  it('related spans carry line and character positions', () => {
    const text = 'cluster c { devices = 8, memory = 80GiB }\ncluster c { devices = 8, memory = 80GiB }';
    const d = documentDiagnostics(analyzeText(text)).find((x) => x.code === 'MOE2003')!;
    expect(d.related[0]).toMatchObject({ message: 'first defined here', range: { start: { line: 0, character: 8 } } });
  });
});
