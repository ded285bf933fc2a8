/**
 * Issue 19: `--backend auto` on a machine without a GPU printed Dawn's Vulkan probing (`Warning:
 * vkCreateInstance: Found no drivers!`, a native `at …` line) into every command's stderr. That
 * output comes from native code on fd 2, so this runs the selection in a child node whose stderr
 * is captured whole; VK_ICD_FILENAMES pointing nowhere makes any machine one without a Vulkan driver.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

const repo = join(import.meta.dirname, '..', '..');
const select = pathToFileURL(join(repo, 'runtime', 'backend', 'select.ts')).href;

function selectInChild(verbose: boolean): { stdout: string; stderr: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'moe-probe-'));
  const script = join(dir, 'select.mts');
  writeFileSync(
    script,
    `import { selectBackend, setProbeLog } from ${JSON.stringify(select)};
${verbose ? "setProbeLog((line) => process.stderr.write('VERBOSE ' + line + '\\n'));" : ''}
const selected = await selectBackend('auto');
process.stdout.write(JSON.stringify(selected) + '\\n');
process.exit(0);
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: repo, encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: join(dir, 'no-driver.json') }, timeout: 120_000 });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe('backend probing', () => {
  it('is quiet without --verbose: not one line of native probing output, and the CPU default is picked', { timeout: 120_000 }, () => {
    const r = selectInChild(false);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const selected = JSON.parse(r.stdout) as { name: string; reason: string };
    expect(selected.name).toBe('wasm');
    expect(selected.reason).toMatch(/webgpu: no WebGPU adapter: Dawn found no Vulkan driver on this machine; using the CPU default$/);
  });

  it('with --verbose says what was tried, with each probe\'s output', { timeout: 120_000 }, () => {
    const r = selectInChild(true);
    expect(r.status).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('VERBOSE '))).toBe(true);
    expect(lines).toContain('VERBOSE backend probe webgpu: no WebGPU adapter: Dawn found no Vulkan driver on this machine');
    expect(lines.some((l) => /^VERBOSE backend probe tensorflow: /.test(l))).toBe(true);
    expect(lines.some((l) => /^VERBOSE {3}\| Warning: vkCreateInstance/.test(l))).toBe(true);
    expect(lines.at(-1)).toBe('VERBOSE backend wasm: the CPU default');
  });
});

describe('moe --verbose', () => {
  it('is taken before or after the command', async () => {
    expect((await runCli(['--verbose', 'check', 'examples/r1-tiny.moe'], repo)).code).toBe(0);
    expect((await runCli(['check', 'examples/r1-tiny.moe', '--verbose'], repo)).code).toBe(0);
  });
});
