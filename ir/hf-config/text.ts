/** A config as the config.json text transformers 5 accepts. */

/**
 * Fields HF types as floats. transformers 5 validates config fields strictly and rejects an int
 * where a float is declared ("expected float, got int"), but JSON.stringify writes 1.0 as `1`.
 */
const FLOAT_FIELDS = new Set([
  'routed_scaling_factor',
  'rms_norm_eps',
  'rope_theta',
  'initializer_range',
  'attention_dropout',
  'aux_loss_alpha',
  'router_aux_loss_coef',
  'router_jitter_noise',
  'factor',
  'beta_fast',
  'beta_slow',
  'mscale',
  'mscale_all_dim',
]);

/** A config as config.json text, float fields with a decimal point even when integral (`1.0`). */
export function hfConfigText(config: object): string {
  const marker = '\u0000float:';
  const text = JSON.stringify(config, (key, value: unknown) => (FLOAT_FIELDS.has(key) && typeof value === 'number' && Number.isInteger(value) ? `${marker}${value}` : value), 2);
  return `${text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0')}\n`;
}
