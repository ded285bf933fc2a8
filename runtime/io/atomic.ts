/**
 * Writing folders and files so that a crash never leaves half of one: everything is written under
 * a staging name next to the target (same file system, so the final rename is atomic) and renamed
 * into place only when complete. On failure the staging copy is removed and the target is as it was.
 *
 * A staging name carries the writer's pid, `.NAME.tmp-PID` (and `.NAME.tmp-PID.old` for the folder
 * being replaced), so what a killed writer left behind can be told from a live writer's work and
 * cleaned up: `cleanStaleStaging`.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RuntimeError } from '../errors.js';
import { pidAlive } from './pid.js';

/** Where this process stages `path`. */
export function stagingPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

const STAGING = /^\.(.+)\.tmp-(\d+)(\.old)?$/;

/**
 * Removes the staging entries in `dir` left by writers that are gone (their pid is dead), only
 * those of `target` when given. A `.old` copy whose target is missing (the writer died between the
 * two renames of a replacement) is put back instead. Returns the names it removed or restored.
 */
export function cleanStaleStaging(dir: string, target?: string): string[] {
  if (!existsSync(dir)) return [];
  const cleaned: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = STAGING.exec(name);
    if (!m || (target !== undefined && m[1] !== target) || pidAlive(Number(m[2]))) continue;
    const original = join(dir, m[1]!);
    if (m[3] && !existsSync(original)) renameSync(join(dir, name), original);
    else rmSync(join(dir, name), { recursive: true, force: true });
    cleaned.push(name);
  }
  return cleaned;
}

/**
 * Fills a fresh folder through `fill(temp)` and renames it to `dir`. An existing `dir` is replaced
 * only when it is empty or holds nothing but `ownFiles` (an earlier output of the same kind): the
 * replacement deletes the old folder, and deleting a user's other files would be a disaster.
 */
export function writeFolderAtomic(dir: string, ownFiles: readonly string[], fill: (temp: string) => void): void {
  const target = resolve(dir);
  refuseForeignFolder(target, ownFiles);
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  cleanStaleStaging(parent, basename(target));
  const temp = stagingPath(target);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp);
  try {
    fill(temp);
    replaceFolder(temp, target);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

function refuseForeignFolder(target: string, ownFiles: readonly string[]): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) throw new RuntimeError(`${target} exists and is not a folder`);
  const foreign = readdirSync(target).filter((f) => !ownFiles.includes(f));
  if (foreign.length > 0) {
    throw new RuntimeError(
      `${target} already exists and holds other files (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', …' : ''})`,
      'write to a new or empty folder',
    );
  }
}

/** rename() cannot replace a non-empty folder: the old one moves aside, the new one in, the old is deleted. */
function replaceFolder(temp: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(temp, target);
    return;
  }
  const old = `${temp}.old`;
  renameSync(target, old);
  try {
    renameSync(temp, target);
  } catch (error) {
    renameSync(old, target);
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
}

/** One file (text or bytes), written under a staging name and renamed into place. */
export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  cleanStaleStaging(dirname(path), basename(path));
  const temp = stagingPath(path);
  try {
    writeFileSync(temp, text);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
