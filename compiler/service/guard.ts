/**
 * Editor requests must never fail: a bug in one feature on one odd text should cost that answer,
 * not the session. `guard` turns any exception into the feature's empty result and tells `onError`.
 */
export type ErrorSink = (feature: string, error: unknown) => void;

export function guard<T>(feature: string, fallback: T, run: () => T, onError?: ErrorSink): T {
  try {
    return run();
  } catch (error) {
    onError?.(feature, error);
    return fallback;
  }
}
