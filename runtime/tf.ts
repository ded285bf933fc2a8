/**
 * The one import of TensorFlow.js for the runtime: tfjs-core, every gradient and the cpu backend.
 * tfjs-core's own `register_all_gradients` is ESM with extensionless imports that Node cannot load,
 * and its CommonJS bundle registers no gradients; the `@tensorflow/tfjs` bundle registers them all
 * against the same tfjs-core instance, so it is imported for that side effect.
 * Other backends are loaded on demand by runtime/backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';

export { tf };

// In a browser the bundle also registers webgl; the default backend here must be cpu.
if (tf.findBackendFactory('webgl')) tf.removeBackend('webgl');
// The cpu backend prints an advert for tfjs-node on its first use; it is the default here, so
// initialise it now and switch the advert off.
(tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
