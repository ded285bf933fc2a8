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
