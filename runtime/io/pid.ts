import { readFileSync } from 'node:fs';

/** Whether a process of this machine is alive: what tells a stale lock or staging folder from a live one. */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    // signal 0 checks without signalling
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, owned by another user
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process of this machine started, in clock ticks after boot (Linux: field 22 of
 * /proc/PID/stat), or undefined where that cannot be read (another system, a pid that is gone). A
 * pid is reused once its process exits: the same pid with another start time is another process.
 */
export function pidStartTime(pid: number): number | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // field 2, the command name, is in parentheses and may hold spaces and ')': fields 3… follow the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[22 - 3]);
  return Number.isSafeInteger(start) && start >= 0 ? start : undefined;
}
