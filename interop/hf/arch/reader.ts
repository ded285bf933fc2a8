/**
 * Typed access to a config.json's fields, falling back to the defaults of HF's config class (what
 * transformers itself runs when a field is absent), with errors naming the field.
 */
import { RuntimeError } from '../../../runtime/errors.js';
import type { HfArchitecture, HfJson } from './types.js';

/** Typed access to config fields, with HF's class defaults and errors naming the field. */
export class ConfigReader {
  constructor(
    private readonly json: HfJson,
    private readonly path: string,
    private readonly defaults: HfJson,
  ) {}

  private raw(key: string): unknown {
    const v = this.json[key];
    return v === undefined ? this.defaults[key] : v;
  }

  private fail(key: string, wanted: string): never {
    const v = this.raw(key);
    throw new RuntimeError(`${this.path}: ${key} must be ${wanted}, found ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
  }

  int(key: string, min = 1): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(key, min === 0 ? 'a non-negative integer' : 'a positive integer');
    return v;
  }

  /** An integer that HF also allows as null (q_lora_rank, head_dim). */
  intOrNull(key: string): number | null {
    return this.raw(key) === null ? null : this.int(key);
  }

  num(key: string): number {
    const v = this.raw(key);
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a number');
    return v;
  }

  bool(key: string): boolean {
    const v = this.raw(key);
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  str(key: string): string {
    const v = this.raw(key);
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  /** A field that must have one value for our IR to express the model. */
  require(key: string, value: unknown, why: string): void {
    const v = this.raw(key);
    if (v !== undefined && v !== null && v !== value) {
      throw new RuntimeError(`${this.path}: ${key} = ${JSON.stringify(v)} is not supported: ${why}`);
    }
  }

  /** A list of layer indices (mlp_only_layers), each below `layers`. */
  layerList(key: string, layers: number): number[] {
    const v = this.raw(key) ?? [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x >= layers)) this.fail(key, `a list of layer indices below ${layers}`);
    return [...new Set(v as number[])].sort((a, b) => a - b);
  }

  /** A list of strings (layer_types). */
  strings(key: string): string[] | null {
    const v = this.raw(key);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(key, 'a list of strings');
    return v as string[];
  }

  has(key: string): boolean {
    const v = this.raw(key);
    return v !== undefined && v !== null;
  }

  record(key: string): HfJson | null {
    const v = this.json[key];
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as HfJson) : null;
  }
}

/** One family: how its config is read, and its config class's defaults the reader falls back to. */
export interface FamilyReader {
  readonly read: (c: ConfigReader, path: string) => HfArchitecture;
  readonly defaults: HfJson;
}
