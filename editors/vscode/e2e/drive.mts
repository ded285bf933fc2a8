/**
 * What the e2e run checks in the real editor: the planted error's file opens, the TextMate grammar
 * colours keywords, names, numbers, units and comments differently, the language server underlines
 * the error, and hovering shows the error's message and a model's parameter count.
 */
import type { Box, Page } from './browser.mjs';

export interface Observed {
  /** token text → its colour in the editor, for the tokens checked */
  readonly colours: Record<string, string>;
  readonly squiggles: number;
  readonly squiggleOverError: boolean;
  readonly errorHover: string;
  readonly modelHover: string;
}

const TIMEOUT = 90_000;

/** Colours of the editor's token spans, by text (the first span with that exact text). */
const TOKEN_COLOURS = `(() => {
  const out = {};
  for (const span of document.querySelectorAll('.monaco-editor .view-line span span')) {
    const text = span.textContent.trim();
    if (text && !(text in out)) out[text] = getComputedStyle(span).color;
  }
  return out;
})()`;

async function spanBox(page: Page, text: string): Promise<Box> {
  const span = page.locator('.monaco-editor .view-line span span').filter({ hasText: new RegExp(`^${text}$`) }).first();
  await span.waitFor({ state: 'visible', timeout: TIMEOUT });
  const box = await span.boundingBox();
  if (!box) throw new Error(`\`${text}\` is not on screen`);
  return box;
}

async function hoverText(page: Page, box: Box): Promise<string> {
  // move away first so a hover already showing closes
  await page.mouse.move(5, 5);
  await page.waitForTimeout(300);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 5 });
  const hover = page.locator('.monaco-hover:not(.hidden) .monaco-hover-content').first();
  await hover.waitFor({ state: 'visible', timeout: TIMEOUT });
  await page.waitForTimeout(500);
  return hover.innerText();
}

export async function drive(page: Page, url: string, workspace: string, file: string, errorToken: string, screenshots: { error: string; model: string }): Promise<Observed> {
  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { waitUntil: 'domcontentloaded', timeout: TIMEOUT });
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: TIMEOUT });
  const item = page.locator(`.explorer-folders-view .monaco-list-row[aria-label^="${file}"]`).first();
  await item.waitFor({ state: 'visible', timeout: TIMEOUT });
  await item.click();
  await page.locator('.monaco-editor .view-lines').first().waitFor({ state: 'visible', timeout: TIMEOUT });
  // the squiggle appears once the extension is active and the server has checked the file
  await page.locator('.monaco-editor .squiggly-error').first().waitFor({ state: 'attached', timeout: TIMEOUT });
  await page.waitForTimeout(1000);

  const colours = (await page.evaluate(TOKEN_COLOURS)) as Record<string, string>;
  const squiggles = await page.locator('.monaco-editor .squiggly-error').count();
  const errorBox = await spanBox(page, errorToken);
  let squiggleOverError = false;
  for (let i = 0; i < squiggles; i++) {
    const s = await page.locator('.monaco-editor .squiggly-error').nth(i).boundingBox();
    if (s && Math.abs(s.y - errorBox.y) < errorBox.height && s.x < errorBox.x + errorBox.width && s.x + s.width > errorBox.x) squiggleOverError = true;
  }
  const errorHover = await hoverText(page, errorBox);
  await page.screenshot({ path: screenshots.error });
  const modelHover = await hoverText(page, await spanBox(page, 'R1Tiny'));
  await page.screenshot({ path: screenshots.model });
  return { colours, squiggles, squiggleOverError, errorHover, modelHover };
}
