/**
 * Document URIs ↔ the absolute paths the compiler works with. `file:` URIs map to their path;
 * anything else (an untitled buffer) gets a stable stand-in path so it can still be checked.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const VIRTUAL_ROOT = join('/', '__moe_virtual__');

export class UriMap {
  private readonly virtual = new Map<string, string>();

  toPath(uri: string): string {
    if (uri.startsWith('file:')) {
      try {
        return fileURLToPath(uri);
      } catch {
        // a file URI Node cannot map (another host's UNC path): treat it like an untitled buffer
      }
    }
    const path = join(VIRTUAL_ROOT, `${encodeURIComponent(uri)}.moe`);
    this.virtual.set(path, uri);
    return path;
  }

  toUri(path: string): string {
    return this.virtual.get(path) ?? pathToFileURL(path).href;
  }
}
