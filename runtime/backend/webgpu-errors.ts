/**
 * Collects the errors Dawn reports on the webgpu backend's device. tfjs-backend-webgpu opens no
 * error scopes, so an invalid shader, pipeline or command buffer surfaces only as the device's
 * 'uncapturederror' event; the `webgpu` package's dawn.node prints those from native code to
 * stdout ("validation:" and the message), out of reach of a JavaScript console hook, and the
 * tensor involved silently keeps stale contents. Listening on the device is the one way to see them.
 */
import { RuntimeError } from '../errors.js';
import { tf } from '../tf.js';

interface ErrorEventLike {
  readonly error?: { readonly message?: string };
}

interface DeviceLike {
  readonly queue: { onSubmittedWorkDone(): Promise<unknown> };
  addEventListener(type: 'uncapturederror', listener: (event: ErrorEventLike) => void): void;
  removeEventListener(type: 'uncapturederror', listener: (event: ErrorEventLike) => void): void;
}

export interface DeviceErrorWatch {
  /** the device, for callers that need to provoke or inspect GPU work directly */
  readonly device: DeviceLike;
  /** every message reported since the watch began, in order */
  readonly errors: readonly string[];
  /** waits until the GPU has finished the work submitted so far and its errors have been delivered */
  settle(): Promise<void>;
  stop(): void;
}

/** Starts collecting the active webgpu backend's uncaptured device errors. */
export function watchDeviceErrors(): DeviceErrorWatch {
  if (tf.getBackend() !== 'webgpu') throw new Error(`the active backend is ${tf.getBackend()}, not webgpu`);
  const device = (tf.backend() as unknown as { device?: DeviceLike }).device;
  if (!device) throw new Error('the webgpu backend has no device');
  const errors: string[] = [];
  const listener = (event: ErrorEventLike): void => {
    errors.push(event.error?.message ?? 'an error without a message');
  };
  device.addEventListener('uncapturederror', listener);
  return {
    device,
    errors,
    async settle() {
      await device.queue.onSubmittedWorkDone();
      // the events are dispatched from Dawn's callbacks, on a later turn of the event loop
      await new Promise((resolve) => setTimeout(resolve, 10));
    },
    stop: () => device.removeEventListener('uncapturederror', listener),
  };
}

/** Stops a run at the first device error instead of training on stale GPU buffers. */
export interface DeviceErrorGuard {
  /** throws a RuntimeError naming the step when the device has reported an error so far */
  check(step: number): void;
  stop(): void;
}

/** A guard on the active backend's device; on backends other than webgpu it never throws. */
export function deviceErrorGuard(): DeviceErrorGuard {
  if (tf.getBackend() !== 'webgpu') return { check: () => undefined, stop: () => undefined };
  const watch = watchDeviceErrors();
  return {
    check(step) {
      const first = watch.errors[0];
      if (first === undefined) return;
      throw new RuntimeError(
        `the GPU reported an error by step ${step} (${watch.errors.length} in all), so its results cannot be trusted: ${first.split('\n')[0]}`,
        'a buffer may exceed the GPU\'s binding limit: lower the batch or sequence length, or use --backend wasm',
      );
    },
    stop: () => watch.stop(),
  };
}
