/**
 * Chat rows (`messages`, the Hugging Face convention): rendered to text with the tokenizer's Jinja
 * chat template through @huggingface/jinja, and cut into parts so SFT learns the assistant turns
 * only. An assistant turn is found by rendering the conversation before it with
 * `add_generation_prompt` and the conversation through it: both must be prefixes of the whole
 * rendering, and the turn is the text between them (the HF `return_assistant_tokens_mask` idea
 * without needing `{% generation %}` markers in the template).
 */
import { Template } from '@huggingface/jinja';
import { dataError } from './data-error.js';

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** A piece of a record's text; `target` pieces are what SFT learns. */
export interface Part {
  readonly text: string;
  readonly target: boolean;
}

export interface ChatTemplate {
  /** where the template came from, for messages */
  readonly source: string;
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
}

/** ChatML, the template used when the tokenizer has none (byte, bpe, an hf file without tokenizer_config.json). */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface TemplateSpecials {
  readonly bos_token?: string;
  readonly eos_token?: string;
}

export function chatTemplate(text: string, source: string, specials: TemplateSpecials = {}): ChatTemplate {
  let template: Template;
  try {
    template = new Template(text);
  } catch (error) {
    throw dataError('MOE7107', `chat template of ${source}: it does not parse: ${(error as Error).message}`);
  }
  return {
    source,
    render(messages, addGenerationPrompt) {
      try {
        return template.render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: '', eos_token: '', ...specials });
      } catch (error) {
        throw dataError('MOE7107', `chat template of ${source}: rendering failed: ${(error as Error).message}`);
      }
    },
  };
}

export const defaultChatTemplate = (): ChatTemplate => chatTemplate(DEFAULT_CHAT_TEMPLATE, 'the default template (ChatML)');

/** `value` as chat messages, or why it is not: a list of `{role, content}` with string values. */
export function asMessages(value: unknown): ChatMessage[] | string {
  if (!Array.isArray(value)) return 'is not a list';
  if (value.length === 0) return 'is empty';
  const out: ChatMessage[] = [];
  for (const [i, m] of value.entries()) {
    const o = m as { role?: unknown; content?: unknown } | null;
    if (typeof o !== 'object' || o === null || typeof o.role !== 'string' || typeof o.content !== 'string') {
      return `entry ${i + 1} is not a {"role": string, "content": string} object`;
    }
    out.push({ role: o.role, content: o.content });
  }
  return out;
}

/** The rendered conversation in parts: the assistant turns are targets, everything else is context. */
export function chatParts(template: ChatTemplate, messages: readonly ChatMessage[]): Part[] {
  const full = template.render(messages, false);
  const parts: Part[] = [];
  let at = 0;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant') return;
    const before = template.render(messages.slice(0, i), true);
    const through = template.render(messages.slice(0, i + 1), false);
    if (!full.startsWith(before) || !full.startsWith(through) || before.length < at || through.length < before.length) {
      throw dataError(
        'MOE7107',
        `chat template of ${template.source}: rendering the conversation up to message ${i + 1} is not a prefix of the whole conversation, so the assistant turn cannot be found`,
      );
    }
    if (before.length > at) parts.push({ text: full.slice(at, before.length), target: false });
    if (through.length > before.length) parts.push({ text: full.slice(before.length, through.length), target: true });
    at = through.length;
  });
  if (full.length > at) parts.push({ text: full.slice(at), target: false });
  return parts;
}
