/** One line of metrics.jsonl (and one TensorBoard step): a step number and that step's figures. */
export type MetricsRecord = { readonly step: number } & Readonly<Record<string, unknown>>;
