/**
 * Just enough globbing for data sources (`data/*.jsonl`, `shard-??.txt`): `*` and `?` within one
 * path segment, no `**` or braces, so no dependency is needed. Matches are sorted, so the record
 * order (and with it the split and the shuffle) does not depend on the file system's listing order.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';

export function hasMagic(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** The folders of an absolute pattern before its first segment with a wildcard: where it searches. */
export function literalPrefix(pattern: string): string {
  const parts = pattern.split(/[\\/]/);
  const magic = parts.findIndex(hasMagic);
  const fixed = magic < 0 ? parts : parts.slice(0, magic);
  return fixed.join(sep) || sep;
}

export function segmentRegex(segment: string): RegExp {
  const body = segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

/** Files matching `pattern` (relative to `baseDir` unless absolute), sorted; [] when none. */
export function expandGlob(pattern: string, baseDir: string): string[] {
  const full = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
  // a plain path is returned when it exists, so the reader can say why it is not a regular file
  if (!hasMagic(full)) return existsSync(full) ? [full] : [];
  const parts = full.split(/[\\/]/);
  let dirs = [parts[0] === '' ? sep : parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') continue;
    const last = i === parts.length - 1;
    const next: string[] = [];
    for (const dir of dirs) {
      if (!hasMagic(part)) {
        const p = join(dir, part);
        if (existsSync(p)) next.push(p);
        continue;
      }
      if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
      const re = segmentRegex(part);
      // a leading `*` does not match hidden files, as in the shell
      for (const name of readdirSync(dir).sort()) if (re.test(name) && !(name.startsWith('.') && !part.startsWith('.'))) next.push(join(dir, name));
    }
    dirs = last ? next : next.filter((d) => statSync(d).isDirectory());
  }
  return dirs.filter((f) => statSync(f).isFile()).sort();
}
