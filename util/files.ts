/**
 * Reading files named by a spec (or by a checkpoint) without trusting what the names point at:
 * a path counts as inside a folder only when its real path (symlinks resolved) is, and only a
 * regular file is read, its size checked against a cap before a byte is read. A symlink to
 * `/dev/zero` or a named pipe would otherwise hang the reader or fill the heap.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';

/** spec and TypeScript files: parse.ts refuses more than 4 Mi characters, at most 4 bytes each */
export const MAX_SPEC_BYTES = 16 * 2 ** 20;

/** `target` lies outside `root`, compared as written (both absolute). */
export function isOutside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel.startsWith('..') || isAbsolute(rel);
}

/**
 * The real path of `path`: symlinks resolved. A path that does not exist (yet) keeps its missing
 * tail on the real path of its nearest existing folder, so `link/missing.txt` is judged by where
 * `link` points.
 */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
}

/** `target` lies outside `root` as written or once symlinks are resolved. */
export function escapes(root: string, target: string): boolean {
  return isOutside(root, target) || isOutside(realPath(root), realPath(target));
}

/** What a non-regular file is, for messages: never its contents. */
function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of the regular file at `path`, or why it cannot be read. The file is opened without
 * blocking (a named pipe with no writer would block `open` itself), then `fstat` of the open file
 * (not of the name, which could be swapped in between) decides: a regular file of at most
 * `maxBytes` is read, anything else is refused unread.
 */
export function readRegularFile(path: string, maxBytes: number): Uint8Array | string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EISDIR') return 'it is a directory';
    return code ?? 'it cannot be opened';
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return stats.isDirectory() ? 'it is a directory' : `it is ${kindOf(stats)}, not a regular file`;
    if (stats.size > maxBytes) return `it is ${stats.size} bytes, over the limit of ${maxBytes}`;
    // one byte more than the cap is asked for, so a file that grew since fstat is noticed
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > stats.size) return 'it grew while being read';
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } finally {
    closeSync(fd);
  }
}
