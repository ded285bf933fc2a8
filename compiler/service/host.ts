/**
 * The compiler host the service checks through: open editor buffers (possibly unsaved) overlaid on
 * another host, normally the real file system. Imports of an open file see its buffer, not the disk.
 */
import { resolve } from 'node:path';
import type { CompilerHost } from '../bind/program.js';

const encoder = new TextEncoder();

export function overlayHost(buffers: ReadonlyMap<string, string>, base: CompilerHost): CompilerHost {
  return {
    readFile(path) {
      const text = buffers.get(resolve(path));
      return text === undefined ? base.readFile(path) : encoder.encode(text);
    },
    fileExists(path) {
      return buffers.has(resolve(path)) || base.fileExists(path);
    },
  };
}
