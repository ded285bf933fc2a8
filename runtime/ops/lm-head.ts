/**
 * `lm_head` (specs/ir.md §4.13): logits = x · Wᵀ, W [V, D] (the embedding table when tied: the
 * executor passes the same tensor, so autograd sums both uses). No bias, softcap or scaling.
 */
import type { Kernel } from './kernel.js';
import { onlyParam, projectT } from './linear.js';

export const lmHead: Kernel = ({ inputs, params }) => [projectT(inputs[0]!, onlyParam(params, 'lm_head'))];
