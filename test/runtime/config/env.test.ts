/**
 * The runtime's environment variables (runtime/config/env.ts): one typed table, parsed in one place,
 * a bad value refused with the variable's name, README's list equal to the table, and no other
 * runtime file reading a MOE_* variable itself.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, parseEnv } from '../../../runtime/config/env.js';
import { RuntimeError } from '../../../runtime/errors.js';
import { runCli } from '../../helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('runtime configuration from the environment', () => {
  it('defaults when unset, typed values when set', () => {
    expect(parseEnv({})).toEqual({
      webgpuGraphs: true, graphPrepare: true, graphSubmitEvery: 128, graphTrace: false, webgpuGemm: true,
      cudaLibraryPath: null, python: 'python3', cudaProfile: false, cudaAttention: null, memoryLimit: null, debug: false,
    });
    const set = parseEnv({
      MOE_WEBGPU_GRAPHS: '0', MOE_GRAPH_PREPARE: '0', MOE_GRAPH_SUBMIT_EVERY: '32', MOE_GRAPH_TRACE: '1', MOE_WEBGPU_GEMM: '0',
      MOE_CUDA_LIBRARY_PATH: '/opt/a:/opt/b', MOE_PYTHON: '/venv/bin/python', MOE_CUDA_PROFILE: '1', MOE_CUDA_ATTENTION: 'rows', MOE_MEMORY_LIMIT: '1e9', MOE_DEBUG: 'yes',
    });
    expect(set).toEqual({
      webgpuGraphs: false, graphPrepare: false, graphSubmitEvery: 32, graphTrace: true, webgpuGemm: false,
      cudaLibraryPath: '/opt/a:/opt/b', python: '/venv/bin/python', cudaProfile: true, cudaAttention: 'rows', memoryLimit: 1e9, debug: true,
    });
  });

  it('refuses a value it cannot read, naming the variable, instead of falling back silently', () => {
    for (const [name, raw] of [
      ['MOE_GRAPH_SUBMIT_EVERY', 'abc'],
      ['MOE_GRAPH_SUBMIT_EVERY', '0'],
      ['MOE_WEBGPU_GRAPHS', 'off'],
      ['MOE_MEMORY_LIMIT', '-5'],
    ] as const) {
      let error: unknown;
      try {
        parseEnv({ [name]: raw });
      } catch (e) {
        error = e;
      }
      expect(error, `${name}=${raw}`).toBeInstanceOf(RuntimeError);
      expect((error as RuntimeError).message).toContain(`${name}=${raw}`);
    }
  });

  it("refuses a choice's bad value in one line naming the variable, the value and every accepted value from the table", () => {
    const choices = Object.values(ENV_VARS).flatMap((v) => ('choices' in v ? [v] : []));
    expect(choices.map((v) => v.name)).toContain('MOE_CUDA_ATTENTION');
    for (const spec of choices) {
      expect(() => parseEnv({ [spec.name]: 'flash\nx' })).toThrow(new RegExp(`^${spec.name}="flash\\\\nx" is not one of: ${spec.choices.join(', ')} \\(unset: ${spec.unset}\\)$`));
    }
    let error: unknown;
    try {
      parseEnv({ MOE_CUDA_ATTENTION: 'fast' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).message).toBe('MOE_CUDA_ATTENTION=fast is not one of: flash, products, rows (unset: chosen by precision and size)');
    expect((error as RuntimeError).help).toMatch(/^set MOE_CUDA_ATTENTION to flash, products or rows, or unset it; MOE_CUDA_ATTENTION: `--backend cuda`'s training attention/);
  });

  it('a bad value reaches a user of the CLI as one error line and its hint, no stack trace', { timeout: 60_000 }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'moe-env-'));
    const saved = process.env.MOE_CUDA_ATTENTION;
    process.env.MOE_CUDA_ATTENTION = 'fast';
    try {
      const { code, stderr } = await runCli(['init', join(root, 'examples', 'r1-tiny.moe'), '-o', join(out, 'ck')]);
      expect(code).toBe(1);
      expect(stderr).toBe(
        `error: MOE_CUDA_ATTENTION=fast is not one of: flash, products, rows (unset: chosen by precision and size)\nhelp: set MOE_CUDA_ATTENTION to flash, products or rows, or unset it; MOE_CUDA_ATTENTION: ${ENV_VARS.cudaAttention.doc}\n`,
      );
    } finally {
      if (saved === undefined) delete process.env.MOE_CUDA_ATTENTION;
      else process.env.MOE_CUDA_ATTENTION = saved;
    }
  });

  it('README lists every variable of the table, and only those', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const listed = new Set([...readme.matchAll(/^\| `(MOE_[A-Z_]+)` \|/gm)].map((m) => m[1]));
    expect(listed).toEqual(new Set(Object.values(ENV_VARS).map((v) => v.name)));
  });

  it('no runtime, report or CLI file but config/env.ts reads a MOE_* variable', () => {
    const readers = [...sources(join(root, 'runtime')), ...sources(join(root, 'report')), ...sources(join(root, 'cli'))]
      .filter((path) => /process\.env(\.|\[['"])MOE_/.test(readFileSync(path, 'utf8')))
      .map((path) => relative(root, path));
    expect(readers).toEqual([]);
  });
});
