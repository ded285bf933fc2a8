/** koffi, imported only when the cuda backend is asked for; a missing or broken install is one clear line. */
import { RuntimeError } from '../errors.js';

export async function loadKoffi(): Promise<typeof import('koffi')> {
  try {
    const mod = (await import('koffi')) as { default?: typeof import('koffi') } & typeof import('koffi');
    return mod.default ?? mod;
  } catch (e) {
    throw new RuntimeError(`the cuda backend needs the npm package koffi, which did not load: ${(e as Error).message.split('\n')[0]}`, 'run `npm install` (koffi ships prebuilt binaries for linux x64/arm64, macOS and Windows)');
  }
}
