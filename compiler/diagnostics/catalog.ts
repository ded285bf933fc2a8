/**
 * Every user-facing diagnostic, with a stable code, severity, message template and the long
 * explanation `moe explain CODE` prints. Codes by range: 1xxx syntax, 2xxx names, 3xxx types and
 * units, 4xxx shapes and MoE constraints, 5xxx parallel layout and memory, 6xxx rewards and
 * experiments, 7xxx tool and runtime. Placeholders `{name}` are filled at the report site and are
 * type-checked against the template. Codes are never reused or renumbered.
 */

export type Severity = 'error' | 'warning';

export interface CatalogEntry {
  readonly severity: Severity;
  /** one line, lowercase, no trailing period; `{x}` placeholders */
  readonly message: string;
  readonly explain: string;
}

export const catalog = {
  // ── 1xxx syntax ────────────────────────────────────────────────────────────────────────────
  MOE1001: {
    severity: 'error',
    message: 'unexpected character {char}',
    explain:
      'The lexer met a character that starts no token of the language. Identifiers are ASCII ' +
      '`[A-Za-z_][A-Za-z0-9_]*`; strings use double quotes; comments are `//` and `/* */`.',
  },
  MOE1002: {
    severity: 'error',
    message: 'expected {expected}, found {found}',
    explain:
      'The parser expected a different token here. The parser recovers and keeps reading, so later ' +
      'errors in the same file are reported too; fix the first one first.',
  },
  MOE1003: {
    severity: 'error',
    message: 'unterminated string',
    explain: 'A string opened with `"` (or a raw string `r"`) has no closing quote on the same line.',
  },
  MOE1004: {
    severity: 'error',
    message: 'invalid escape {escape} in string',
    explain:
      'Strings use JSON escapes: `\\"`, `\\\\`, `\\/`, `\\b`, `\\f`, `\\n`, `\\r`, `\\t`, `\\uXXXX`. ' +
      'For regular expressions prefer raw strings `r"..."` where backslashes are literal.',
  },
  MOE1005: {
    severity: 'error',
    message: 'this is not a text file ({reason})',
    explain: 'Spec files are UTF-8 text. The file contains NUL bytes or invalid UTF-8 sequences.',
  },
  MOE1006: {
    severity: 'error',
    message: 'nesting deeper than {limit} levels',
    explain:
      'Blocks, lists and parentheses may nest at most this deep. Real specs nest a handful of levels; ' +
      'the limit protects the tools from pathological input.',
  },
  MOE1007: {
    severity: 'error',
    message: 'file is too large ({size}, the limit is {limit})',
    explain: 'A spec file may be at most 4 MiB. Split data out into `data` sources instead.',
  },
  MOE1008: {
    severity: 'error',
    message: 'unclosed comment',
    explain: 'A block comment opened with `/*` is never closed with `*/`.',
  },
  MOE1009: {
    severity: 'error',
    message: 'the file declares nothing',
    explain:
      'A spec file holds at least one declaration. An empty file is usually a wrong path or a ' +
      'truncated write.',
  },

  // ── 2xxx names ─────────────────────────────────────────────────────────────────────────────
  MOE2001: {
    severity: 'error',
    message: 'unknown block kind `{name}`',
    explain:
      'Top-level blocks are `cluster`, `data`, `tokenizer`, `model`, `reward`, the stages `pretrain`, ' +
      '`sft`, `grpo`, `sample`, `generate`, and `pipeline`; plus `import` and `const` declarations.',
  },
  MOE2002: {
    severity: 'error',
    message: 'cannot find `{name}` in this scope',
    explain:
      'A name in an expression must be a `const`, a field of the same or an enclosing block, or ' +
      '(where a field takes a reference) a block declared in this file or an imported one.',
  },
  MOE2003: {
    severity: 'error',
    message: '`{name}` is defined more than once',
    explain: 'Block names and consts share one namespace across a file and the files it imports.',
  },
  MOE2004: {
    severity: 'error',
    message: 'cannot read `{path}`: {reason}',
    explain: 'An `import` or a `source` path names a file that does not exist or cannot be read.',
  },
  MOE2005: {
    severity: 'error',
    message: 'import cycle: {cycle}',
    explain: 'Files must not import each other in a cycle. Move the shared blocks into a third file.',
  },
  MOE2006: {
    severity: 'error',
    message: 'path `{path}` leaves the spec folder',
    explain:
      'Paths in `import` and `source` are resolved relative to the spec file and must stay inside ' +
      'the folder of the spec given on the command line. Symlinks are resolved first (a link inside ' +
      'the folder to a file outside it is outside), and a glob must stay inside too: its fixed leading ' +
      'folders and every file it matches. The file outside is not read. Pass `--allow-outside` to permit it.',
  },
  MOE2007: {
    severity: 'error',
    message: '`{name}` cannot be extended by a {kind} block',
    explain: '`extends` names a block of the same kind, e.g. `model Big extends Small { ... }`.',
  },
  MOE2008: {
    severity: 'error',
    message: 'cycle in `extends`: {cycle}',
    explain: 'A block cannot extend itself, directly or through other blocks.',
  },
  MOE2009: {
    severity: 'error',
    message: 'unknown field `{name}` in {where}',
    explain:
      'Every block kind has a fixed schema of fields. `moe explain` and the language reference ' +
      '(docs/reference.md) list them; the help line suggests the closest known field.',
  },
  MOE2010: {
    severity: 'error',
    message: 'missing required field `{name}` in {where}',
    explain: 'This field has no default and must be given.',
  },
  MOE2011: {
    severity: 'error',
    message: '{what} is set more than once',
    explain:
      'Each field may appear once per block, and some fields say the same thing another way (`steps` ' +
      'or `epochs`, `prompt` or `prompts`): give one. Remove one of the assignments.',
  },
  MOE2012: {
    severity: 'error',
    message: 'unknown {what} `{name}`',
    explain: 'The value must be one of a fixed set of names; the help line lists them.',
  },
  MOE2013: {
    severity: 'error',
    message: '`{name}` is {found}, but {field} needs a {expected} block',
    explain: 'A reference field names a block of a particular kind, e.g. `model = ...` names a model.',
  },
  MOE2014: {
    severity: 'error',
    message: '`{name}` depends on itself: {cycle}',
    explain: 'Consts and fields may refer to each other, but not in a cycle.',
  },
  MOE2015: {
    severity: 'warning',
    message: '`{name}` is not in the base `{base}`; it is added',
    explain:
      'A block that `extends` another normally overrides fields the base already sets. A field the ' +
      'base lacks is added; this warning makes sure that was meant and not a misspelling.',
  },
  MOE2016: {
    severity: 'warning',
    message: 'const `{name}` is never used',
    explain: 'Remove the const or use it.',
  },
  MOE2017: {
    severity: 'error',
    message: 'unknown function `{name}`',
    explain: 'Expressions may call `min`, `max`, `ceil`, `floor`, `round`, `sqrt`, `log2` and `pow`.',
  },

  // ── 3xxx types and units ───────────────────────────────────────────────────────────────────
  MOE3001: {
    severity: 'error',
    message: 'mismatched types: expected {expected}, found {found}',
    explain: 'The value has the wrong type for this field. The reference lists each field\'s type.',
  },
  MOE3002: {
    severity: 'error',
    message: 'mismatched units: expected {expected}, found {found}',
    explain:
      'Quantities carry units (`2000 steps`, `80GiB`, `2s`). A field accepts certain units; a plain ' +
      'number takes the field\'s default unit. Units that cannot be converted at compile time ' +
      '(e.g. epochs to steps without a dataset size) are an error where the field needs a fixed one.',
  },
  MOE3003: {
    severity: 'error',
    message: 'expected a whole number, found {value}',
    explain: 'Sizes and counts are integers.',
  },
  MOE3004: {
    severity: 'error',
    message: '{field} must be {bound}, found {value}',
    explain: 'The value is outside the range the field accepts.',
  },
  MOE3005: {
    severity: 'error',
    message: 'division by zero',
    explain: 'An expression divides by a value that is zero.',
  },
  MOE3006: {
    severity: 'error',
    message: '{left} is not divisible by {right}',
    explain:
      'Sizes derived by division (e.g. a head dimension `dim / heads`) must come out whole. Use ' +
      '`floor()` or `ceil()` if rounding is intended.',
  },
  MOE3007: {
    severity: 'error',
    message: '{value} is not a finite number',
    explain:
      'A literal or the result of an expression is infinite or not a number (e.g. `1e999`, ' +
      '`pow(10, 400)`, `sqrt(-1)`). Numbers must be finite.',
  },
  MOE3008: {
    severity: 'error',
    message: '`{name}` takes {expected}, found {found}',
    explain: 'The function was called with the wrong number of arguments.',
  },
  MOE3009: {
    severity: 'error',
    message: 'invalid regular expression: {reason}',
    explain: 'Patterns use JavaScript regular expression syntax. Raw strings `r"..."` avoid escaping.',
  },
  MOE3010: {
    severity: 'error',
    message: 'expected a list of {expected} items, found {found}',
    explain: 'This list has a fixed length, e.g. `betas = [0.9, 0.95]`.',
  },
  MOE3011: {
    severity: 'error',
    message: 'operator `{op}` cannot combine {left} and {right}',
    explain:
      'Arithmetic works on numbers and quantities: units add only to the same unit, a quantity may ' +
      'be scaled by a plain number, and dividing two quantities of one unit gives a plain number.',
  },

  // ── 4xxx shapes and MoE constraints ────────────────────────────────────────────────────────
  MOE4001: {
    severity: 'error',
    message: 'no `layers` range covers {layers} of {model}',
    explain:
      'Every layer index 0..layers-1 must be covered by exactly one `layers a..b { ... }` range ' +
      '(inclusive at both ends).',
  },
  MOE4002: {
    severity: 'error',
    message: 'more than one `layers` range covers {layers}',
    explain: 'Layer ranges must not overlap; each layer has one feed-forward definition.',
  },
  MOE4003: {
    severity: 'error',
    message: 'layer range {range} is outside 0..{last}',
    explain: 'A range `a..b` needs 0 <= a <= b <= layers-1.',
  },
  MOE4004: {
    severity: 'error',
    message: 'a layer range needs exactly one of `ffn` or `moe`, found {found}',
    explain: 'Each layer is either dense (`ffn swiglu { hidden }`) or mixture-of-experts (`moe { ... }`).',
  },
  MOE4101: {
    severity: 'error',
    message: 'kv_heads ({kvHeads}) does not divide heads ({heads})',
    explain: 'In grouped-query attention each key/value head serves heads/kv_heads query heads.',
  },
  MOE4102: {
    severity: 'error',
    message: 'top_k ({topK}) exceeds the experts in the allowed groups ({topGroups} × {perGroup})',
    explain:
      'With group-limited routing a token may only pick experts inside its best `top_groups` ' +
      'groups of `experts / groups` experts each, so `top_k <= top_groups * experts / groups`.',
  },
  MOE4103: {
    severity: 'error',
    message: 'top_k ({topK}) exceeds the number of routed experts ({experts})',
    explain: 'A token cannot be routed to more experts than exist.',
  },
  MOE4104: {
    severity: 'error',
    message: 'groups ({groups}) does not divide experts ({experts})',
    explain: 'Group-limited routing splits the routed experts into equal groups.',
  },
  MOE4105: {
    severity: 'error',
    message: 'top_groups ({topGroups}) exceeds groups ({groups})',
    explain: 'A token can be routed into at most all groups.',
  },
  MOE4106: {
    severity: 'error',
    message: 'dim ({dim}) is not divisible by heads ({heads})',
    explain: 'Without an explicit `head_dim`, attention uses dim / heads per head, which must be whole.',
  },
  MOE4107: {
    severity: 'error',
    message: 'seq_len ({seqLen}) of `{stage}` exceeds the context ({context}) of `{model}`',
    explain: 'A stage cannot train or generate beyond the model\'s context length.',
  },
  MOE4108: {
    severity: 'error',
    message: 'tokenizer `{tokenizer}` has {size} ids but model `{model}` has vocab {vocab}',
    explain: 'Every token id must have an embedding row: the model\'s vocab must be at least the tokenizer size.',
  },
  MOE4109: {
    severity: 'error',
    message: 'yarn scaling: {reason}',
    explain:
      'YaRN extends a model trained at `original_context` by `factor`; the model\'s `context` should ' +
      'equal `original_context * factor` at most, and factor must exceed 1.',
  },
  MOE4110: {
    severity: 'error',
    message: 'max_new_tokens ({requested}) leaves no room for a prompt in the context ({context})',
    explain: 'The prompt and the generated tokens together must fit the model context, so max_new_tokens must be below it.',
  },

  MOE4111: {
    severity: 'error',
    message: '`{field}` is not supported with mla attention',
    explain:
      'q/k norm (`qk_norm`) and q/k/v biases (`qkv_bias`) are defined for gqa, mha and mqa attention, ' +
      'as Qwen3-MoE, OLMoE and Qwen2-MoE use them. MLA already normalises its compressed query and ' +
      'its latent (q_a_layernorm, kv_a_layernorm), and no MLA checkpoint has these weights.',
  },
  MOE4112: {
    severity: 'error',
    message: '`window_layers` without a `window`',
    explain:
      '`window_layers` lists the layers that use the sliding window `window`; without a window it ' +
      'would be ignored. Set `window = N` or remove `window_layers`.',
  },
  MOE4113: {
    severity: 'error',
    message: 'window_layers: {reason}',
    explain:
      'Each entry of `window_layers` is a main layer index 0..layers-1, listed once (HF `layer_types` ' +
      'entries `sliding_attention`). MTP modules always attend fully.',
  },
  MOE4114: {
    severity: 'warning',
    message: 'window ({window}) is not below the context ({context}): the sliding window never hides a token',
    explain:
      'A query sees itself and the window - 1 tokens before it. With a window as long as the context ' +
      'every query sees every earlier token, which is full causal attention: drop `window`, or set it ' +
      'below the context.',
  },
  MOE4115: {
    severity: 'error',
    message: '`shared_gate` needs shared experts, but shared = 0',
    explain:
      'The shared-expert gate (Qwen2-MoE) scales the shared experts\' output by sigmoid(x · w); a layer ' +
      'without shared experts has nothing to gate. Set `shared` ≥ 1 or remove `shared_gate`.',
  },
  MOE4116: {
    severity: 'error',
    message: '`shared_hidden` sizes the shared experts, but shared = 0',
    explain:
      '`shared_hidden` is the hidden width of the shared experts\' MLP (Qwen2-MoE ' +
      '`shared_expert_intermediate_size`); a layer without shared experts has none to size. Set ' +
      '`shared` ≥ 1 or remove `shared_hidden`.',
  },

  // ── 5xxx parallel layout and memory ────────────────────────────────────────────────────────
  MOE5001: {
    severity: 'error',
    message: 'data × tensor × pipeline = {product}, but cluster `{cluster}` has {devices} devices',
    explain: 'The parallel layout must use every device exactly once: data * tensor * pipeline = devices.',
  },
  MOE5002: {
    severity: 'error',
    message: 'expert parallelism ({expert}) does not divide {what} ({value})',
    explain:
      'Expert parallelism places experts/expert routed experts on each rank of a group carved out of ' +
      'the data × tensor ranks, so `expert` must divide both.',
  },
  MOE5003: {
    severity: 'error',
    message: '{layers} layers do not split evenly over {pipeline} pipeline stages',
    explain:
      'Pipeline stages hold equal numbers of layers, or the first and last stage hold the stated ' +
      '`first_stage_layers` / `last_stage_layers` and the stages between them equal numbers.',
  },
  MOE5004: {
    severity: 'error',
    message: 'tensor parallelism ({tensor}) does not divide {what} ({value})',
    explain: 'Tensor parallelism splits heads and feed-forward hidden sizes evenly across ranks.',
  },
  MOE5005: {
    severity: 'error',
    message: 'batch ({batch}) is not divisible by data × micro_batches ({divisor})',
    explain: 'Each data-parallel rank processes batch / data sequences in micro_batches equal parts.',
  },
  MOE5006: {
    severity: 'error',
    message: 'estimated memory per device is {total}, but `{cluster}` devices have {memory}',
    explain:
      'The estimate adds weights, gradients, optimizer state (after ZeRO sharding) and activations ' +
      'for one micro-batch on the busiest pipeline stage (docs/stats.md gives the formulas).',
  },
  MOE5007: {
    severity: 'error',
    message: '`parallel` needs a cluster: set `on = CLUSTER`',
    explain:
      'A layout over several devices (data, tensor, pipeline or expert above 1, zero above 0, or a stated pipeline split) is ' +
      'checked against the devices of a cluster block. `micro_batches` and `recompute` alone run on one device and need none.',
  },
  MOE5008: {
    severity: 'warning',
    message: 'vocab {vocab} is not a multiple of tensor {tensor}: a Megatron-Core export cannot have this vocabulary',
    explain:
      'A pretrain stage on a cluster can be exported with `moe compile --emit megatron`. Megatron-Core pads the ' +
      'tokenizer\'s vocabulary to a multiple of `--make-vocab-size-divisible-by` (default 128) × tensor parallel. ' +
      'The script sets the divisor so the padding lands on the spec\'s vocab (vocab / tensor where vocab is no ' +
      'multiple of 128 × tensor, at the cost of a slower output layer), which needs vocab to be a multiple of tensor.',
  },
  MOE5009: {
    severity: 'error',
    message: 'the rollout batch ({prompts} prompts × group {group} = {rows} sequences) is not divisible by data × micro_batches ({divisor})',
    explain:
      'A grpo policy update runs on the rollout batch: `batch` prompts with `group` sampled completions each. ' +
      'Each data-parallel rank takes rows / data of its sequences in micro_batches equal parts, whose gradients ' +
      'are summed before one optimizer step.',
  },

  // ── 6xxx rewards and experiments ───────────────────────────────────────────────────────────
  MOE6001: {
    severity: 'error',
    message: 'reward weights sum to {sum}, not 1',
    explain:
      'A reward is a weighted sum of rules; the weights must sum to 1 so rewards stay in [0, 1]. ' +
      'Set `normalize = true` to divide by the sum instead.',
  },
  MOE6002: {
    severity: 'error',
    message: 'custom reward `{ref}`: {reason}',
    explain:
      'A custom rule names a TypeScript function as `file.ts#name`, the file relative to the spec. ' +
      'The function must have the signature `(completion: string, sample: Record<string, unknown>) => number | Promise<number>`.',
  },
  MOE6003: {
    severity: 'error',
    message: '`{stage}` starts from `{from}`, which {reason}',
    explain:
      '`from` names an earlier stage whose final checkpoint this stage starts from, or a checkpoint ' +
      'path in a string. Stage dependencies must not form a cycle.',
  },
  MOE6004: {
    severity: 'error',
    message: 'pipeline `{pipeline}`: {reason}',
    explain:
      'A pipeline lists stages joined by `->`; each stage must exist, appear once, and come after the ' +
      'stage it starts `from`.',
  },
  MOE6005: {
    severity: 'error',
    message: 'stage `{stage}` needs `model` or `from`',
    explain: 'A stage trains or runs a model: give a `model = NAME` or start `from` another stage.',
  },
  MOE6006: {
    severity: 'error',
    message: 'clip range [{low}, {high}] is invalid',
    explain: 'The clip range is `clip = eps` or `clip = [eps_low, eps_high]` with 0 < eps_low, 0 < eps_high < 10.',
  },
  MOE6007: {
    severity: 'error',
    message: 'warmup ({warmup} steps) is not shorter than training ({steps} steps)',
    explain: 'The learning-rate warmup must end before training does.',
  },
  MOE6008: {
    severity: 'error',
    message: 'decay milestones must increase within (0, 1]: {reason}',
    explain:
      'A multistep schedule lists `fraction -> factor` pairs, e.g. `[80% -> 0.316, 90% -> 0.1]`, with ' +
      'fractions of training increasing.',
  },
  MOE6009: {
    severity: 'error',
    message: 'stage `{stage}` needs {what}',
    explain: 'Generation and sampling stages need prompts: `prompt = "..."` or `prompts = DATA`.',
  },
  MOE6010: {
    severity: 'error',
    message: 'data `{data}`: {reason}',
    explain: 'A data block names a source file relative to the spec, or a built-in `synthetic` generator.',
  },

  MOE6012: {
    severity: 'error',
    message: 'reward `{name}` has no rules',
    explain: 'A reward is a weighted sum of rules, written `name weight = rule { ... }`, e.g. `accuracy 1.0 = answer { compare = numeric }`.',
  },
  MOE6013: {
    severity: 'error',
    message: 'custom reward `{ref}` does not have the reward signature',
    explain:
      'A custom reward function is called once per completion as `fn(completion, sample)` and must ' +
      'return its score, a number in [0, 1], or a promise of one: its type must be assignable to ' +
      '`(completion: string, sample: Record<string, unknown>) => number | Promise<number>`. It may ' +
      'take fewer parameters (`(completion: string) => number` is fine), but not parameters of other ' +
      'types, more required parameters, or return something else. The check type-checks the file ' +
      'without following its imports or loading the standard library, so types it cannot know count ' +
      'as fitting; annotate the parameters and the return type to have them checked.',
  },

  MOE6014: {
    severity: 'error',
    message: 'eval stage `{stage}`: {reason}',
    explain:
      'An eval stage scores completions with the rules of its reward and counts a prompt as right when ' +
      'its answer rule scores 1. `answer = RULE` names that rule; without it the reward must have exactly ' +
      'one rule of kind `answer` (e.g. `accuracy 1.0 = answer { compare = numeric }`), which is used.',
  },

  // ── 7xxx tool and runtime ──────────────────────────────────────────────────────────────────
  MOE7001: {
    severity: 'warning',
    message: 'too many diagnostics; showing {count}, errors first',
    explain:
      'The checker shows at most this many diagnostics per file, errors before warnings, and a note ' +
      'counts what was left out. The exit status still counts every error. Fix these and run again.',
  },
  MOE7002: {
    severity: 'error',
    message: 'cannot emit {format} for `{name}`: {reason}',
    explain:
      'An export format cannot express everything a spec can: HF deepseek_v3 wants dense layers only ' +
      'before the MoE layers and one expert shape, a Megatron launch script needs a pretrain stage on a ' +
      'cluster. The message says what is missing; the other formats are still written.',
  },

  // ── 71xx data read by the runtime (issue 19) ──────────────────────────────────────────────
  MOE7201: {
    severity: 'error',
    message: 'model {model} cannot be exported to HF transformers: {reason}',
    explain:
      'A model is exported to HF transformers (`moe export hf`) as the family whose transformers code computes ' +
      'the same model: deepseek_v3 (MLA, sigmoid routing), deepseek_v2 (MLA, softmax routing that is never ' +
      'renormalised), llama (GQA, every layer dense), qwen3_moe (per-head q/k norm), olmoe (full-width q/k norm), ' +
      'mixtral (softmax routing renormalised, no shared experts) or qwen2_moe (q/k/v biases, a shared expert behind ' +
      'a sigmoid gate). A setting none of them computes (a softmax MLA router that renormalises, a shared expert ' +
      'without the gate, a sliding window where the family has none, token-dropping capacity, …) would load in ' +
      'transformers as a different model, so the export is refused, naming the setting. A model block with ' +
      '`export = hf` is checked for this by `moe check`, so `moe train` refuses it before any training.',
  },
  MOE7101: {
    severity: 'error',
    message: '{file} is not {format}: {reason}',
    explain:
      'A data source is read by its format: `format` in the data block, else its extension (`.parquet` ' +
      'is Parquet; `.jsonl`, `.ndjson`, `.json` are JSONL; anything else is text). A file whose bytes ' +
      'say otherwise is refused rather than trained on: a Parquet file (it starts with `PAR1`) named ' +
      '`.jsonl` or `.txt`, a text or JSONL file with NUL bytes (binary data), or a `.parquet` file that ' +
      'Parquet cannot read. Rename the file or set `format = text | jsonl | parquet` to match its content.',
  },
  MOE7102: {
    severity: 'error',
    message: '{where}: {reason}',
    explain:
      'A JSONL line or a Parquet row that cannot become a training record: a line that is not a JSON ' +
      'object, a field of the wrong type, a required field missing, or `messages` that are not a list of ' +
      '`{role, content}` objects. Rows are read by the Hugging Face dataset conventions: `messages` (chat, ' +
      'rendered with the chat template), else `prompt`/`completion` (the names the data block sets), else ' +
      '`text` (a whole document, for pretraining). The position is `file:line` (JSONL) or `file:row N` ' +
      '(Parquet, counted from 1).',
  },
  MOE7103: {
    severity: 'warning',
    message: '{file}: {count} byte sequence(s) are not UTF-8 and were replaced by U+FFFD (first on line {line})',
    explain:
      'Data sources are read as UTF-8. Bytes that are not UTF-8 (a Latin-1 or Windows-1252 file, a ' +
      'truncated download) are replaced by U+FFFD and trained on as that character. The run goes on, ' +
      'since a few stray bytes are common in real corpora; convert the file to UTF-8 ' +
      '(`iconv -f latin1 -t utf-8`) to train on the original characters.',
  },
  MOE7104: {
    severity: 'warning',
    message: '{count} of {total} SFT rows of `{data}` train on nothing: the prompt fills seq_len {seqLen}',
    explain:
      'SFT learns only the completion (the assistant turns for `messages`). A row is cut to `seq_len` ' +
      'tokens, so a prompt of `seq_len` tokens or more leaves no completion token in the row: it adds ' +
      'nothing to the loss and, in the validation split, makes the loss look better than it is. Raise ' +
      '`seq_len`, shorten the prompts, or drop those rows. When every row is like that the stage is refused (MOE7105).',
  },
  MOE7105: {
    severity: 'error',
    message: 'every one of the {total} SFT rows of `{data}` trains on nothing: the prompts fill seq_len {seqLen}',
    explain:
      'No row of the data block keeps a completion token within `seq_len`, so the stage would train on ' +
      'nothing and report a validation loss of 0. Raise `seq_len` or shorten the prompts.',
  },
  MOE7106: {
    severity: 'warning',
    message: 'the validation split of `{data}` is empty ({records} record(s)): evaluation never runs',
    explain:
      'The split holds out a share of the records (`split { valid = … }`, 1% by default), and at least ' +
      'one when there are two or more. A data block with a single record has nothing to hold out. A text ' +
      'file is one record per paragraph (records are separated by blank lines), so a file without blank ' +
      'lines is one record: separate its documents with blank lines, use JSONL or Parquet with one ' +
      'document per row, or add records.',
  },
  MOE7107: {
    severity: 'error',
    message: 'chat template of {source}: {reason}',
    explain:
      'Rows with `messages` are rendered with the tokenizer\'s chat template: `chat_template` of the ' +
      '`tokenizer_config.json` next to an `hf` tokenizer\'s `tokenizer.json`, else the default template ' +
      '(ChatML: `<|im_start|>role\\ncontent<|im_end|>\\n`). The template must parse and render with ' +
      '@huggingface/jinja, and rendering a conversation up to each assistant turn (with ' +
      '`add_generation_prompt`) must give a prefix of the whole conversation, so the assistant turns can ' +
      'be found for the SFT loss. A prompt set for sampling or GRPO takes `prompt` rows, not `messages`.',
  },
} as const satisfies Record<string, CatalogEntry>;

export type Code = keyof typeof catalog;

/** The placeholder names in a message template, e.g. `'a {x} b {y}'` → `'x' | 'y'`. */
export type Placeholders<S extends string> = S extends `${string}{${infer P}}${infer Rest}`
  ? P | Placeholders<Rest>
  : never;

export type MessageArgs<C extends Code> = Record<Placeholders<(typeof catalog)[C]['message']>, string | number>;

export function formatMessage<C extends Code>(code: C, args: MessageArgs<C>): string {
  const template: string = catalog[code].message;
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String((args as Record<string, unknown>)[name]));
}

export function isCode(text: string): text is Code {
  return Object.hasOwn(catalog, text);
}
