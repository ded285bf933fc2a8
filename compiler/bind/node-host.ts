/** The compiler host on the real file system. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { CompilerHost } from './program.js';

export const nodeHost: CompilerHost = {
  readFile(path) {
    try {
      if (statSync(path).isDirectory()) return 'it is a directory';
      return readFileSync(path);
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((error as Error).message);
    }
  },
  fileExists(path) {
    return existsSync(path);
  },
};
