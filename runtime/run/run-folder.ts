/**
 * Opening a run folder for writing: refused if it holds files we did not write (nothing changes
 * then), locked against a second command, made ours (the manifest) and cleared of what killed
 * commands left staged. Every command that writes a run folder opens it here first.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanStaleStaging } from '../io/atomic.js';
import { LOCK_FILE, acquireLock } from './lock.js';
import { MANIFEST_LOCK_FILE, logManifestLock } from './manifest-lock.js';
import { MANIFEST_FILE, adoptFolder, ownedEntries, refuseForeignFolder } from './ownership.js';

export interface OpenRunFolder {
  readonly dir: string;
  /** unlocks; a folder this command created and left with nothing in it is removed again */
  readonly release: () => void;
}

/**
 * What another command opening the folder right now may have written before its manifest: the
 * locks (the manifest's too: it is held while the manifest is written), the markers of a stale
 * lock's takeover (lock.ts) and the staging copies of the locks and the manifest.
 */
const escape = (name: string): string => name.replace(/[.]/g, '\\.');
const locks = [LOCK_FILE, MANIFEST_LOCK_FILE].map(escape).join('|');
const opening = (name: string): boolean =>
  new RegExp(`^(${locks})(\\.takeover-[0-9a-f]+-\\d+)?$`).test(name) ||
  new RegExp(`^\\.?(${locks}|${escape(MANIFEST_FILE)})\\.tmp-\\d+$`).test(name);

/** Refuses a folder that is not ours and holds anything; changes nothing (a check before opening several). */
export const checkRunFolder = (runDir: string): void => refuseForeignFolder(runDir, opening);

export function openRunFolder(runDir: string, log: (line: string) => void): OpenRunFolder {
  checkRunFolder(runDir);
  const created = !existsSync(runDir);
  mkdirSync(runDir, { recursive: true });
  const unlock = acquireLock(runDir, log);
  const unlog = logManifestLock(runDir, log);
  const release = (): void => {
    unlog();
    unlock();
    if (created && ownedEntries(runDir).length === 0 && onlyHolds(runDir, [MANIFEST_FILE])) {
      rmSync(join(runDir, MANIFEST_FILE), { force: true });
      try {
        rmdirSync(runDir);
      } catch {
        // another command started writing there meanwhile: the folder is its now
      }
    }
  };
  try {
    // checked again under the lock: another command may have written there meanwhile
    adoptFolder(runDir, opening);
    const cleaned = cleanStaleStaging(runDir);
    if (cleaned.length > 0) log(`${runDir}: removed what killed commands left staged: ${cleaned.join(', ')}`);
  } catch (error) {
    release();
    throw error;
  }
  return { dir: runDir, release };
}

const onlyHolds = (dir: string, names: readonly string[]): boolean => existsSync(dir) && readdirSync(dir).every((n) => names.includes(n));
