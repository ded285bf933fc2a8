/**
 * One sample of a data block, whatever its source. Pretraining reads `prompt + completion` as one
 * document; SFT trains on the completion given the prompt; GRPO prompts use `prompt` and `answer`.
 * A text file's paragraphs are records with an empty prompt.
 */
export interface DataRecord {
  readonly prompt: string;
  readonly completion: string;
  /** the reference answer the rewards compare against, when the source has one */
  readonly answer?: string;
  /** `file:line` it came from, for error messages later on */
  readonly where?: string;
}

export function documentText(r: DataRecord): string {
  return r.prompt + r.completion;
}
