/**
 * The part of playwright-core's API the e2e run uses. playwright-core is installed into the e2e
 * cache, not the repository, so its types are not available here: these interfaces say what is
 * used, and `loadChromium` checks the loaded module has it.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface Locator {
  first(): Locator;
  nth(index: number): Locator;
  count(): Promise<number>;
  waitFor(options?: { state?: 'attached' | 'visible'; timeout?: number }): Promise<void>;
  boundingBox(): Promise<Box | null>;
  innerText(): Promise<string>;
  click(): Promise<void>;
  filter(options: { hasText: string | RegExp }): Locator;
}

export interface Page {
  goto(url: string, options?: { waitUntil?: 'load' | 'domcontentloaded'; timeout?: number }): Promise<unknown>;
  locator(selector: string): Locator;
  readonly mouse: { move(x: number, y: number, options?: { steps?: number }): Promise<void> };
  readonly keyboard: { press(key: string): Promise<void> };
  evaluate(expression: string): Promise<unknown>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
}

export interface Browser {
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

interface Chromium {
  launch(options: { executablePath: string; headless: boolean; args: string[]; timeout?: number }): Promise<Browser>;
}

/** Flags that keep Debian's chromium headless, sandbox-free (root in a container) and offline. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium(playwrightFrom: string, executablePath: string): Promise<Browser> {
  const require = createRequire(join(playwrightFrom, 'package.json'));
  const loaded = require('playwright-core') as { chromium?: Partial<Chromium> };
  if (typeof loaded.chromium?.launch !== 'function') throw new Error('playwright-core has no chromium.launch');
  return (loaded.chromium as Chromium).launch({ executablePath, headless: true, args: FLAGS, timeout: 60_000 });
}
