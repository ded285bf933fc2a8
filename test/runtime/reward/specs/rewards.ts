/** Custom rewards the scorer tests load as `rewards.ts#…` (transpiled at load time). */
export function mentionsAnswer(completion: string, sample: Record<string, unknown>): number {
  return completion.includes(String(sample['answer'])) ? 1 : 0;
}

export async function halfLater(completion: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return completion.length > 0 ? 0.5 : 0;
}

export function tooBig(): number {
  return 3;
}

export function notANumber(): unknown {
  return 'high';
}

export function throws(completion: string): number {
  if (completion === 'boom') throw new Error('boom');
  return 1;
}

export const notAFunction = 42;
