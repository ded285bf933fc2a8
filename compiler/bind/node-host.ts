/** The compiler host on the real file system: regular files only, at most MAX_SPEC_BYTES each. */
import { existsSync } from 'node:fs';
import { MAX_SPEC_BYTES, readRegularFile } from '../../util/files.js';
import type { CompilerHost } from './program.js';

export const nodeHost: CompilerHost = {
  readFile(path) {
    return readRegularFile(path, MAX_SPEC_BYTES);
  },
  fileExists(path) {
    return existsSync(path);
  },
};
