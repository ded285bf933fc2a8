/**
 * The runtime's configuration from the environment: every `MOE_*` variable the runtime reads, in one
 * table (name, type, default, meaning), parsed and checked here and nowhere else. README.md lists
 * the same table (a test keeps them in step).
 *
 * Read when a component starts (a trainer's step graphs, a decoder, a captured graph), not when a
 * module is imported: a program or a test that sets a variable before starting the work is heard.
 * A value that does not parse is an error naming the variable, never a silent default.
 */
import { RuntimeError } from '../errors.js';

/** One environment variable: its parsed type and default, and what it does, for users. */
interface EnvVar<T> {
  readonly name: string;
  readonly kind: 'switch' | 'flag' | 'positive integer' | 'bytes' | 'folders' | 'command' | 'choice';
  readonly default: T;
  readonly doc: string;
  readonly parse: (raw: string) => T | undefined;
  /** a `choice`'s accepted values and what happens when it is unset: its refusal lists them */
  readonly choices?: readonly string[];
  readonly unset?: string;
}

/** A variable that takes one of `choices` (the table's entry spreads this in): parsed and refused from the one list. */
function choice<const C extends readonly string[]>(choices: C, unset: string): Pick<EnvVar<C[number]>, 'kind' | 'parse'> & { readonly choices: C; readonly unset: string } {
  const accepted: readonly string[] = choices;
  return { kind: 'choice', choices, unset, parse: (raw) => (accepted.includes(raw) ? (raw as C[number]) : undefined) };
}

/** `0` turns a default-on feature off; `1` keeps it on. */
const onUnlessZero = (raw: string): boolean | undefined => (raw === '0' ? false : raw === '1' ? true : undefined);
/** `1` turns a default-off diagnostic on; `0` keeps it off. */
const offUnlessOne = (raw: string): boolean | undefined => (raw === '1' ? true : raw === '0' ? false : undefined);
const positiveInteger = (raw: string): number | undefined => (/^[1-9][0-9]*$/.test(raw) ? Number(raw) : undefined);
/** A byte count as a number (`1e9` too). */
const positiveNumber = (raw: string): number | undefined => {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

/** The table: one entry per variable; RuntimeEnv below is derived from it. */
export const ENV_VARS = {
  webgpuGraphs: {
    name: 'MOE_WEBGPU_GRAPHS',
    kind: 'switch',
    default: true,
    doc: 'captured GPU graphs for training steps, validation passes and decode steps on webgpu; 0 runs every step through tfjs',
    parse: onUnlessZero,
  } satisfies EnvVar<boolean>,
  graphPrepare: {
    name: 'MOE_GRAPH_PREPARE',
    kind: 'switch',
    default: true,
    doc: "encode a decode graph's next replay while the GPU runs the current one; 0 encodes at replay time",
    parse: onUnlessZero,
  } satisfies EnvVar<boolean>,
  graphSubmitEvery: {
    name: 'MOE_GRAPH_SUBMIT_EVERY',
    kind: 'positive integer',
    default: 128,
    doc: 'commands per submitted command buffer when a graph replays (for measuring)',
    parse: positiveInteger,
  } satisfies EnvVar<number>,
  graphTrace: {
    name: 'MOE_GRAPH_TRACE',
    kind: 'flag',
    default: false,
    doc: "1 prints each graphed training step's host encode time and GPU wait on stderr",
    parse: offUnlessOne,
  } satisfies EnvVar<boolean>,
  webgpuGemm: {
    name: 'MOE_WEBGPU_GEMM',
    kind: 'switch',
    default: true,
    doc: "our tiled fp32 matmul and GEMV on webgpu; 0 keeps tfjs's stock kernel",
    parse: onUnlessZero,
  } satisfies EnvVar<boolean>,
  cudaLibraryPath: {
    name: 'MOE_CUDA_LIBRARY_PATH',
    kind: 'folders',
    default: null,
    doc: 'folders (`:`-separated) searched first for libcuda and cuBLASLt by `--backend cuda`',
    parse: (raw: string) => raw,
  } satisfies EnvVar<string | null>,
  python: {
    name: 'MOE_PYTHON',
    kind: 'command',
    default: 'python3',
    doc: "the Python asked for its site-packages when `--backend cuda` looks for cuBLASLt in PyTorch's nvidia-* wheels",
    parse: (raw: string) => (raw.length > 0 ? raw : undefined),
  } satisfies EnvVar<string>,
  cudaProfile: {
    name: 'MOE_CUDA_PROFILE',
    kind: 'flag',
    default: false,
    doc: "1 synchronizes after every op on `--backend cuda` and prints the time and calls per op (forward, backward, optimizer) at the end of a run, leaving out each shape's first training step (warm-up)",
    parse: offUnlessOne,
  } satisfies EnvVar<boolean>,
  cudaAttention: {
    name: 'MOE_CUDA_ATTENTION',
    ...choice(['flash', 'products', 'rows'], 'chosen by precision and size'),
    default: null,
    doc: "`--backend cuda`'s training attention: in bf16 the flash kernels (tensor cores, O(T) memory); in fp32 exact products over stored [T, H, T] scores while a batch row's scores fit 512 MiB, else row-wise (O(T) memory, slower); `flash`, `products` or `rows` forces one",
  } satisfies EnvVar<'flash' | 'rows' | 'products' | null>,
  memoryLimit: {
    name: 'MOE_MEMORY_LIMIT',
    kind: 'bytes',
    default: null,
    doc: "the most bytes a model's float32 weights may take before loading is refused (default: half the machine's memory)",
    parse: positiveNumber,
  } satisfies EnvVar<number | null>,
  debug: {
    name: 'MOE_DEBUG',
    kind: 'flag',
    default: false,
    doc: 'any value: the CLI prints the stack trace of an internal error',
    parse: () => true,
  } satisfies EnvVar<boolean>,
} as const;

type Table = typeof ENV_VARS;

/** The parsed configuration: one typed field per table entry. */
export type RuntimeEnv = { readonly [K in keyof Table]: Table[K]['default'] | NonNullable<ReturnType<Table[K]['parse']>> };

/** Parses `vars` (process.env by default) against the table; a value that does not parse is an error. */
export function parseEnv(vars: Readonly<Record<string, string | undefined>>): RuntimeEnv {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(ENV_VARS) as [keyof Table, EnvVar<unknown>][]) {
    const raw = vars[spec.name];
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    const value = spec.parse(raw);
    if (value === undefined) throw refusal(spec, raw);
    out[key] = value;
  }
  return out as RuntimeEnv;
}

/** One line naming the variable, the value and what it accepts (a choice's values from its table entry), and what it does. */
function refusal(spec: EnvVar<unknown>, raw: string): RuntimeError {
  // the value as typed, quoted only when a control character or space would break the line or hide
  const value = /^[\x21-\x7e]*$/.test(raw) ? raw : JSON.stringify(raw);
  if (spec.choices === undefined) return new RuntimeError(`${spec.name}=${value} is not a ${spec.kind}`, `${spec.name}: ${spec.doc}`);
  const unset = spec.unset === undefined ? '' : ` (unset: ${spec.unset})`;
  return new RuntimeError(
    `${spec.name}=${value} is not one of: ${spec.choices.join(', ')}${unset}`,
    `set ${spec.name} to ${alternatives(spec.choices)}, or unset it; ${spec.name}: ${spec.doc}`,
  );
}

/** `a`, `a or b`, `a, b or c` */
const alternatives = (words: readonly string[]): string => (words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1)!}`);

/** The configuration from the process's environment now. */
export function runtimeEnv(): RuntimeEnv {
  return parseEnv(process.env);
}
