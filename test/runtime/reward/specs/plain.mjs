// A custom reward written in JavaScript, imported as it is.
export function nonEmpty(completion) {
  return completion.length > 0 ? 1 : 0;
}
