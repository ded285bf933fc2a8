/**
 * Writes the generated files: typed CST interfaces, railroad diagrams and the field reference.
 * `npm run gen` refreshes them; test/generated.test.ts fails when one is stale.
 */
import { writeFileSync } from 'node:fs';
import { generatedFiles } from './generated-files.js';

for (const [path, content] of Object.entries(generatedFiles())) {
  writeFileSync(new URL(`../${path}`, import.meta.url), content);
  console.log(`wrote ${path}`);
}
