/**
 * `--emit svg`: the DOT picture rendered to SVG by Graphviz compiled to WebAssembly
 * (`@viz-js/viz`), so no system Graphviz is needed. The WASM instance is created once per process.
 */
import { instance, type Viz } from '@viz-js/viz';

let viz: Promise<Viz> | undefined;

/** Renders DOT text to an SVG document; rejects when Graphviz refuses the input. */
export async function renderSvg(dot: string): Promise<string> {
  viz ??= instance();
  return (await viz).renderString(dot, { format: 'svg', engine: 'dot' });
}
