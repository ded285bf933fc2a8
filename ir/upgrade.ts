/**
 * Older IR documents to the current version, so checkpoints written before a format change keep
 * loading. Runs after schema validation (the schema accepts every version listed here).
 *
 * 1 → 2: nodes gain `layer`. Version 1 graphs came from the one lowering whose parameter names
 * follow HF (`model.layers.{i}.…`), so the layer is recovered from them here, once, and no reader
 * decodes names: a node takes the layer of its parameters; a node without parameters, or an
 * `lm_head` (whose weight is shared), takes the layer of its inputs; an MTP embedding (shift k) is
 * module k's, layer `layers + k − 1`; the total loss is model-level.
 */
import type { GraphDocument, ModelGraph, Node } from './types.js';

const LAYER_PARAM = /^model\.layers\.(\d+)\./;

function upgradeModel(model: ModelGraph): ModelGraph {
  const layers = typeof model.config.layers === 'number' ? model.config.layers : 0;
  const layerOf = new Map<string, number>();
  const nodes = model.nodes.map((node): Node => {
    let layer: number | undefined;
    for (const p of node.params) {
      const m = LAYER_PARAM.exec(p);
      if (m) {
        layer = Number(m[1]);
        break;
      }
    }
    const shift = node.attrs.shift;
    if (layer === undefined && node.op === 'embedding' && typeof shift === 'number' && shift > 0) layer = layers + shift - 1;
    if (layer === undefined && node.op !== 'loss.sum' && (node.params.length === 0 || node.op === 'lm_head')) {
      const found = node.inputs.map((i) => layerOf.get(i)).filter((i) => i !== undefined);
      if (found.length > 0) layer = Math.max(...found);
    }
    if (layer === undefined) return node;
    for (const o of node.outputs) layerOf.set(o, layer);
    return { ...node, layer };
  });
  return { ...model, nodes };
}

/** The document in the current format (unchanged when it already is). */
export function upgradeGraph(document: GraphDocument | (Omit<GraphDocument, 'ir_version'> & { readonly ir_version: 1 })): GraphDocument {
  if (document.ir_version !== 1) return document;
  return { ...document, ir_version: 2, models: document.models.map(upgradeModel) };
}
