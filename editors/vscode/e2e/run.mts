/**
 * `npm run test:e2e`: the extension in a real VS Code. Packs the .vsix, installs it into code-server
 * (Node 24, from the npm registry, cached in /tmp/moe-e2e), opens examples/r1-tiny.moe with a planted
 * error (`std` misspelt as `sdt`) and a `custom` reward added (the server loads ts-morph for it,
 * which the .vsix ships bundled) in headless chromium through playwright-core, and checks the highlighting,
 * the squiggle and the hover texts. Screenshots go to editors/vscode/e2e-output/. Not part of
 * `npm test`: it needs network for the first install and takes about a minute.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './browser.mjs';
import { startCodeServer } from './code-server.mjs';
import { drive, type Observed } from './drive.mjs';
import { CACHE, ensureTools } from './tools.mjs';

const extensionDir = join(import.meta.dirname, '..');
const repo = join(extensionDir, '..', '..');
const output = join(extensionDir, 'e2e-output');
const PORT = Number(process.env.MOE_E2E_PORT ?? 18_734);
/** a misspelt field of an optional block, so the model still has a shape and its numbers */
const ERROR_TOKEN = 'sdt';

function plantError(workspace: string): string {
  rmSync(workspace, { recursive: true, force: true });
  mkdirSync(workspace, { recursive: true });
  const text = readFileSync(join(repo, 'examples', 'r1-tiny.moe'), 'utf8');
  const planted = text.replace('init { std = 0.02 }', `init { ${ERROR_TOKEN} = 0.02 }`);
  if (planted === text) throw new Error('could not plant the error: examples/r1-tiny.moe changed');
  // a custom reward rule: the server checks its signature with ts-morph, which a broken bundle lacked
  writeFileSync(join(workspace, 'spec.moe'), `${planted}\nreward custom_check {\n  useful 1.0 = custom { function = "scores.reward.ts#nonEmpty" }\n}\n`);
  copyFileSync(join(repo, 'test', 'fixtures', 'clean', 'scores.reward.ts'), join(workspace, 'scores.reward.ts'));
  return 'spec.moe';
}

function check(observed: Observed): string[] {
  const failures: string[] = [];
  const expect = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };
  const c = observed.colours;
  const comment = Object.entries(c).find(([text]) => text.startsWith('//'))?.[1];
  const kinds = { keyword: c.model, 'block name': c.R1Tiny, field: c.vocab, number: c['320'], comment };
  const distinct = new Set(Object.values(kinds).filter(Boolean));
  expect(distinct.size === 5, `keywords, block names, fields, numbers and comments in five colours (saw ${JSON.stringify(kinds)})`);
  // themes may colour units like numbers (Dark Modern does), but never like a plain name
  expect(c.sequences !== undefined && c.sequences !== c.vocab && c.sequences !== c.R1Tiny, `the unit in \`16 sequences\` highlighted (saw ${c.sequences})`);
  expect(observed.squiggles > 0, 'an error squiggle');
  expect(observed.squiggleOverError, `the squiggle under \`${ERROR_TOKEN}\``);
  expect(/unknown field `sdt`/.test(observed.errorHover) && /did you mean `std`\?/.test(observed.errorHover), `the error's hover (saw ${JSON.stringify(observed.errorHover)})`);
  expect(/parameters/.test(observed.modelHover) && /KV cache per token/.test(observed.modelHover), `the model's hover (saw ${JSON.stringify(observed.modelHover)})`);
  return failures;
}

async function main(): Promise<number> {
  const tools = ensureTools();
  execFileSync('npm', ['run', 'package:vscode'], { cwd: repo, stdio: 'inherit' });
  const manifest = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8')) as { name: string; version: string };
  const vsix = join(extensionDir, `${manifest.name}-${manifest.version}.vsix`);
  const workspace = join(CACHE, 'workspace');
  const file = plantError(workspace);
  mkdirSync(output, { recursive: true });
  const server = await startCodeServer(tools, vsix, workspace, join(CACHE, 'home'), PORT);
  const browser = await launchChromium(tools.playwrightFrom, tools.chromium);
  try {
    // tall enough to show the file down to its first stage (`16 sequences`)
    const page = await browser.newPage({ viewport: { width: 1400, height: 1700 } });
    const observed = await drive(page, server.url, workspace, file, ERROR_TOKEN, {
      error: join(output, 'error-hover.png'),
      model: join(output, 'model-hover.png'),
    });
    writeFileSync(join(output, 'observed.json'), `${JSON.stringify(observed, null, 2)}\n`);
    console.log(JSON.stringify(observed, null, 2));
    const failures = check(observed);
    for (const f of failures) console.error(`FAILED: ${f}`);
    console.log(failures.length === 0 ? `e2e passed; screenshots in ${output}` : `e2e failed (${failures.length})`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await browser.close();
    server.stop();
  }
}

process.exitCode = await main();
