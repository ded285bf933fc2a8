/**
 * `npm run package:vscode`: bundles the client and the language server with esbuild into
 * editors/vscode/dist/, copies the IR schema for `*.graph.json` validation, and packs an installable
 * .vsix with vsce — all offline. Prints the .vsix path.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { build } from 'esbuild';

const extensionDir = join(import.meta.dirname, '..');
const repo = join(extensionDir, '..', '..');
const require = createRequire(import.meta.url);

/**
 * The sources are ES modules that read `import.meta.url` (to `createRequire` a CommonJS package,
 * to find files beside them); in a CommonJS bundle `import.meta` is empty, so each bundle defines
 * it as its own file's URL.
 */
const IMPORT_META_URL = '__moeImportMetaUrl';
const importMetaBanner = `var ${IMPORT_META_URL} = require('node:url').pathToFileURL(__filename).href;`;

async function bundle(): Promise<void> {
  const dist = join(extensionDir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: { extension: join(extensionDir, 'src', 'extension.ts'), server: join(extensionDir, 'src', 'server.ts') },
    outdir: dist,
    bundle: true,
    platform: 'node',
    // VS Code loads extensions with require(); its extension host runs Node 20 since 1.90
    format: 'cjs',
    target: 'node20',
    external: ['vscode'],
    define: { 'import.meta.url': IMPORT_META_URL },
    banner: { js: importMetaBanner },
    minify: true,
    sourcemap: false,
    logLevel: 'warning',
  });
  await bundleTsMorph(dist);
}

/**
 * The checker loads ts-morph only for a spec with a `custom` reward, by a runtime require from the
 * bundle's folder (compiler/check/rules/custom-reward.ts), which esbuild cannot follow. So ts-morph
 * (with the TypeScript compiler inside it) is bundled on its own as dist/node_modules/ts-morph.js,
 * where Node's resolution of `require('ts-morph')` from dist/server.js finds it; the server loads
 * it on the first such spec, as the CLI does.
 */
async function bundleTsMorph(dist: string): Promise<void> {
  await build({
    entryPoints: [require.resolve('ts-morph')],
    outfile: join(dist, 'node_modules', 'ts-morph.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    sourcemap: false,
    logLevel: 'error',
  });
}

/** The IR schema lives in the IR package (ir/); the extension ships a copy. */
function copySchema(): void {
  const source = join(repo, 'ir', 'graph.schema.json');
  const target = join(extensionDir, 'schemas', 'graph.schema.json');
  if (!existsSync(source)) {
    console.warn(`note: ${relative(repo, source)} does not exist yet; packaging without it, so *.graph.json files get no schema validation`);
    return;
  }
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(source, target);
}

function pack(): string {
  const manifest = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8')) as { name: string; version: string };
  const out = join(extensionDir, `${manifest.name}-${manifest.version}.vsix`);
  // @vscode/vsce ships no type declarations, so its command line is the stable interface
  const vsce = join(dirname(require.resolve('@vscode/vsce/package.json')), 'vsce');
  execFileSync(process.execPath, [vsce, 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--out', out], {
    cwd: extensionDir,
    stdio: 'inherit',
  });
  return out;
}

await bundle();
copySchema();
console.log(pack());
