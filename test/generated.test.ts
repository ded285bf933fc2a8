/** Generated files are committed and must be fresh: run `npm run gen` after changing their sources. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../scripts/generated-files.js';

const repo = join(import.meta.dirname, '..');

describe('generated files', () => {
  for (const [path, content] of Object.entries(generatedFiles())) {
    it(`${path} is up to date (npm run gen)`, () => {
      expect(readFileSync(join(repo, path), 'utf8')).toBe(content);
    });
  }
});
