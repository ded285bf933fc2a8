/** What an HF config is written as, and the families `moe export hf` writes. */
export type JsonValue = number | string | boolean | null | readonly JsonValue[] | { readonly [k: string]: JsonValue };
export type HfConfig = { readonly [k: string]: JsonValue };
export type HfConfigResult = { readonly ok: true; readonly config: HfConfig } | { readonly ok: false; readonly reason: string };

/** The families `moe export hf` writes. */
export type HfFamily = 'deepseek_v2' | 'deepseek_v3' | 'mixtral' | 'llama' | 'qwen2_moe' | 'qwen3_moe' | 'olmoe';

/** Families whose HF tensor names are the IR's, so a checkpoint folder with their config.json is one HF loads. */
export const SAME_NAMES: ReadonlySet<string> = new Set<HfFamily>(['deepseek_v2', 'deepseek_v3', 'llama', 'qwen3_moe', 'olmoe']);
