/**
 * Probing a GPU backend in a child process. Dawn (Vulkan) and libtensorflow print their probing
 * to the process's own stderr (fd 2) from native code — `Warning: vkCreateInstance: Found no
 * drivers!`, a native `at operator()` line — which no JavaScript hook can silence. `moe … --backend
 * auto` asks a short-lived child instead: its output is captured, shown only with `--verbose`, and
 * the backend is loaded into this process only when the child found it usable.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

export interface ProbeResult {
  /** undefined when usable; else why not, in one line */
  readonly problem?: string;
  /** what the child printed (native probing output), trimmed */
  readonly output: string;
}

/** Where a package resolves from here, or undefined when it is not installed. */
export function installedAt(name: string): string | undefined {
  try {
    return require.resolve(name);
  } catch {
    return undefined;
  }
}

/**
 * The child prints one JSON line `{"problem"?: string}` on stdout, last; everything else (stderr,
 * earlier stdout) is the probing output. `process.exit` because Dawn keeps the event loop alive.
 */
function webgpuScript(url: string): string {
  return `
const dawn = await import(${JSON.stringify(url)});
Object.assign(globalThis, dawn.globals);
const adapter = await dawn.create([]).requestAdapter();
const soft = (a) => a.isFallbackAdapter === true || a.info?.isFallbackAdapter === true || a.info?.architecture === 'software';
const problem = !adapter ? 'no WebGPU adapter: Dawn found no Vulkan driver on this machine'
  : soft(adapter) ? 'the only WebGPU adapter is a software one (' + (adapter.info?.description || 'fallback') + ')' : undefined;
process.stdout.write('\\n' + JSON.stringify({ problem }) + '\\n');
process.exit(0);`;
}

function tensorflowScript(url: string): string {
  return `
const tf = await import(${JSON.stringify(url)});
await (tf.default ?? tf).ready();
process.stdout.write('\\n' + JSON.stringify({}) + '\\n');
process.exit(0);`;
}

/** Runs `script` as an ES module in a fresh node and reads its verdict (a crash is a problem too). */
function runProbe(script: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((done) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: timeoutMs, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      const lines = stdout.trimEnd().split('\n');
      let verdict: { problem?: unknown } | undefined;
      try {
        verdict = JSON.parse(lines.at(-1) ?? '') as { problem?: unknown };
      } catch {
        verdict = undefined;
      }
      const output = [...lines.slice(0, verdict ? -1 : undefined), stderr].join('\n').trim();
      if (verdict && !error) {
        done({ ...(typeof verdict.problem === 'string' ? { problem: verdict.problem } : {}), output });
        return;
      }
      const why = error?.killed ? `the probe took over ${timeoutMs / 1000} s` : `the probe failed${error?.code === undefined ? '' : ` (exit ${error.code})`}`;
      done({ problem: `${why}: ${output.split('\n').find((l) => l.trim() !== '') ?? 'no output'}`, output });
    });
  });
}

/** Whether the `webgpu` package finds a hardware adapter, asked in a child process. */
export function probeWebgpu(): Promise<ProbeResult> {
  const at = installedAt('webgpu');
  if (!at) return Promise.resolve({ problem: 'the webgpu package is not installed', output: '' });
  return runProbe(webgpuScript(pathToFileURL(at).href), 60_000);
}

/** Whether @tensorflow/tfjs-node-gpu loads and starts, asked in a child process. */
export function probeTensorflow(): Promise<ProbeResult> {
  const at = installedAt('@tensorflow/tfjs-node-gpu');
  if (!at) return Promise.resolve({ problem: '@tensorflow/tfjs-node-gpu is not installed', output: '' });
  return runProbe(tensorflowScript(pathToFileURL(at).href), 120_000);
}
