/**
 * What a run folder's owner may touch. A folder is ours when it holds `.moe-run.json`, the manifest
 * we write when we create (or first fill an empty) folder; the manifest lists every top-level entry
 * a command wrote there (`checkpoint-N`, `metrics.jsonl`, `stage.json`, …). Commands overwrite,
 * rotate and delete only entries listed there, so a user's notes, an `hf-export/` or another tool's
 * `checkpoint-N/` inside a run folder survive anything we do; a folder that is not ours and not
 * empty is refused before anything in it changes. Every change of the manifest is made holding its
 * lock (manifest-lock.ts): commands writing one folder together lose none of each other's entries.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { MANIFEST_FILE, withManifestLock } from './manifest-lock.js';

export { MANIFEST_FILE };

interface Manifest {
  readonly tool: 'moe';
  readonly version: 1;
  readonly created: string;
  /** top-level names in the folder that a command wrote */
  readonly entries: readonly string[];
}

export function readManifest(runDir: string): Manifest | undefined {
  const path = join(runDir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new RuntimeError(`${path} is not valid JSON: ${(error as Error).message}`, `moe cannot tell which files in ${runDir} it wrote; choose another output folder`);
  }
  const m = parsed as Partial<Manifest> | null;
  // an entry is one name inside the folder: a manifest naming `..` or a path must not steer a delete
  if (m?.tool !== 'moe' || !Array.isArray(m.entries) || !m.entries.every((e) => typeof e === 'string' && isPlainName(e))) {
    throw new RuntimeError(`${path} is not a moe run manifest`, `choose another output folder`);
  }
  return m as Manifest;
}

const isPlainName = (name: string): boolean => name !== '' && name !== '.' && name !== '..' && !/[/\\]/.test(name);

const writeManifest = (runDir: string, manifest: Manifest): void => writeFileAtomic(join(runDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

const newManifest = (): Manifest => ({ tool: 'moe', version: 1, created: new Date().toISOString(), entries: [] });

/** Writes a manifest into `dir` (which must exist) unless it has one, holding the manifest lock. */
const createManifest = (dir: string): void =>
  withManifestLock(dir, () => {
    if (!readManifest(dir)) writeManifest(dir, newManifest());
  });

/**
 * Reads the manifest, changes it and writes it back (unless `change` returns undefined), holding its
 * lock so that no other command's change made meanwhile is lost. A folder that is not ours is
 * refused before a lock file is put there.
 */
function changeManifest(runDir: string, change: (manifest: Manifest) => Manifest | undefined): void {
  manifestOf(runDir);
  withManifestLock(runDir, () => {
    const changed = change(manifestOf(runDir));
    if (changed !== undefined) writeManifest(runDir, changed);
  });
}

/**
 * Refuses a folder that is not ours and holds anything but `ignored` names (our lock, say); a
 * missing or empty folder is fine. Changes nothing.
 */
export function refuseForeignFolder(runDir: string, ignored: (name: string) => boolean = () => false): void {
  if (!existsSync(runDir)) return;
  if (!statSync(runDir).isDirectory()) throw new RuntimeError(`${runDir} exists and is not a folder`, 'choose another output folder');
  if (readManifest(runDir)) return;
  const foreign = readdirSync(runDir).filter((name) => !ignored(name));
  if (foreign.length === 0) return;
  throw new RuntimeError(
    `${runDir} holds files moe did not write (${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? ', …' : ''}); nothing was changed`,
    `moe writes only into a new or empty folder or one it created (it holds ${MANIFEST_FILE}); choose another output folder`,
  );
}

/** Makes an empty (or missing) folder ours; a folder that already is stays as it is. */
export function adoptFolder(runDir: string, ignored: (name: string) => boolean): void {
  refuseForeignFolder(runDir, ignored);
  mkdirSync(runDir, { recursive: true });
  createManifest(runDir);
}

function manifestOf(runDir: string): Manifest {
  const manifest = readManifest(runDir);
  if (!manifest) throw new RuntimeError(`${runDir} is not a moe run folder (it has no ${MANIFEST_FILE})`, 'open the folder with `moe train` or `moe run` first');
  return manifest;
}

/** The entries a command wrote, in the order written. */
export const ownedEntries = (runDir: string): readonly string[] => readManifest(runDir)?.entries ?? [];

export const isOwned = (runDir: string, name: string): boolean => ownedEntries(runDir).includes(name);

/**
 * Call before writing (or replacing) the top-level entry `name`: records it as ours, and refuses
 * when something of that name is already there that a command did not write.
 */
export function claimEntry(runDir: string, name: string): void {
  if (!isPlainName(name)) throw new RuntimeError(`internal: run-folder entry ${JSON.stringify(name)} is not a plain name`);
  changeManifest(runDir, (manifest) => {
    if (manifest.entries.includes(name)) return undefined;
    if (existsSync(join(runDir, name))) {
      throw new RuntimeError(`${join(runDir, name)} was not written by moe; it is left as it is`, `move it out of ${runDir}, or choose another output folder`);
    }
    return { ...manifest, entries: [...manifest.entries, name] };
  });
}

/**
 * `claimEntry` in a folder that holds moe's run folders but is not one (`moe run`'s output folder):
 * a folder without a manifest gets one listing only `name`, so what else is there (the stage
 * folders, anything of the user's) is never an entry a command may delete. Refuses, changing
 * nothing, when `name` is already there and not ours.
 */
export function claimInFolder(dir: string, name: string): void {
  if (!readManifest(dir)) {
    if (existsSync(join(dir, name))) {
      throw new RuntimeError(`${join(dir, name)} was not written by moe; it is left as it is`, `move it out of ${dir}, or choose another output folder`);
    }
    mkdirSync(dir, { recursive: true });
    createManifest(dir);
  }
  claimEntry(dir, name);
}

/** Records an entry a stage runner reported writing (a samples or generations file). */
export function recordEntry(runDir: string, name: string): void {
  if (!isPlainName(name)) return;
  changeManifest(runDir, (manifest) => (manifest.entries.includes(name) ? undefined : { ...manifest, entries: [...manifest.entries, name] }));
}

/** Deletes one entry we wrote and forgets it; an entry we did not write is never touched. */
export function removeEntry(runDir: string, name: string): void {
  changeManifest(runDir, (manifest) => {
    if (!manifest.entries.includes(name)) return undefined;
    rmSync(join(runDir, name), { recursive: true, force: true });
    return { ...manifest, entries: manifest.entries.filter((e) => e !== name) };
  });
}

/** Starting over (`--force`, a changed plan): deletes every entry we wrote, nothing else. */
export function clearEntries(runDir: string): void {
  changeManifest(runDir, (manifest) => {
    for (const name of manifest.entries) rmSync(join(runDir, name), { recursive: true, force: true });
    return { ...manifest, entries: [] };
  });
}
