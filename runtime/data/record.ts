/**
 * One sample of a data block, whatever its source. Pretraining reads `prompt + completion` as one
 * document; SFT trains on the completion given the prompt; GRPO prompts use `prompt` and `answer`.
 * A text file's paragraphs and `{"text": …}` rows are records with an empty prompt. A chat row
 * (`messages`) also keeps its rendered parts, so SFT learns every assistant turn, not just the last.
 */
import type { Part } from './chat.js';

export interface DataRecord {
  readonly prompt: string;
  readonly completion: string;
  /** the reference answer the rewards compare against, when the source has one */
  readonly answer?: string;
  /** a chat row's rendering in order (`prompt + completion` joined); targets are the assistant turns */
  readonly parts?: readonly Part[];
  /** `file:line` (or `file:row N`) it came from, for error messages later on */
  readonly where?: string;
}

export function documentText(r: DataRecord): string {
  return r.prompt + r.completion;
}

/** What SFT learns from: the chat parts, or the prompt as context and the completion as target. */
export function recordParts(r: DataRecord): readonly Part[] {
  return r.parts ?? [
    { text: r.prompt, target: false },
    { text: r.completion, target: true },
  ];
}
