/** `concat` (specs/ir.md §4.4): [a ; b] along the last axis (the MTP `[embedding ; hidden]` input). */
import { tf } from '../tf.js';
import type { Kernel } from './kernel.js';

export const concat: Kernel = ({ inputs }) => [tf.concat([inputs[0]!, inputs[1]!], -1)];
