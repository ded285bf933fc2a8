/**
 * The `moe` command line. Every user mistake ends in a message and an exit status, never a stack
 * trace: 0 clean, 1 errors in the specs or data, 2 usage or internal errors, 130 interrupted with a
 * checkpoint written (cli/io.ts EXIT says which mistake is which; MOE_DEBUG=1 shows the stack).
 */
import { Command, CommanderError } from 'commander';
import { runCheck } from './commands/check.js';
import { runCompile } from './commands/compile.js';
import { runExplain } from './commands/explain.js';
import { runFmt } from './commands/fmt.js';
import type { GenerateCliOptions } from './commands/generate.js';
import type { TrainCliOptions } from './commands/train.js';
import { EXIT, UsageError, processIo, type CliIo } from './io.js';
import { setProbeLog } from '../runtime/backend/select.js';
import { runtimeEnv } from '../runtime/config/env.js';
import { RuntimeError } from '../runtime/errors.js';

/** MOE_DEBUG, read through the one env module; another variable that does not parse must not hide the error being reported. */
function debugRequested(): boolean {
  try {
    return runtimeEnv().debug;
  } catch {
    return false;
  }
}

function program(io: CliIo, setExit: (code: number) => void): Command {
  const cli = new Command('moe')
    .description('check, compile and run DeepSeek-style Mixture-of-Experts specs (.moe)')
    .version('0.1.0')
    .option('--verbose', 'print what backend probing tried, with the native output of each probe')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run `moe --help` for usage)')
    // before any command runs: probing is quiet unless --verbose (in any position) asks for it
    .hook('preAction', (root) => setProbeLog(root.opts<{ verbose?: boolean }>().verbose === true ? (line) => io.stderr(`${line}\n`) : undefined));

  cli
    .command('check')
    .description('type-check specs and report every problem; --stats prints model and memory statistics')
    .argument('<files...>', '.moe spec files')
    .option('--json', 'print diagnostics (and stats) as JSON on stdout')
    .option('--stats', 'print parameters, FLOPs, KV cache and memory per device')
    .option('--allow-outside', 'permit import/source paths outside the spec folder')
    .action((files: string[], options: { json?: boolean; stats?: boolean; allowOutside?: boolean }) => {
      setExit(runCheck(files, options, io));
    });

  cli
    .command('compile')
    .description('lower a spec to its execution graph and export it (graph, ts, dot, svg, hf-config, megatron)')
    .argument('<file>', '.moe spec file')
    .option('-o, --out <dir>', 'output folder', '.')
    .option('--emit <formats>', 'comma-separated: graph, ts, dot, svg, hf-config, megatron', 'graph')
    .option('--allow-outside', 'permit import/source paths outside the spec folder')
    .action(async (file: string, options: { out?: string; emit?: string; allowOutside?: boolean }) => {
      setExit(await runCompile(file, options, io));
    });

  cli
    .command('fmt')
    .description('rewrite specs in the canonical layout (comments kept)')
    .argument('<files...>', '.moe spec files')
    .option('--check', 'only report files that are not formatted (exit 1 if any)')
    .option('--stdout', 'print the formatted text instead of rewriting')
    .action((files: string[], options: { check?: boolean; stdout?: boolean }) => {
      setExit(runFmt(files, options, io));
    });

  // import and export load the runtime (TensorFlow.js) only when they run, so `moe check` stays fast
  cli
    .command('import')
    .description('convert a checkpoint: `moe import hf DIR -o OUT` writes our checkpoint OUT and MODEL.moe beside it')
    .argument('<format>', 'the source format: hf')
    .argument('<dir>', 'HF checkpoint folder (config.json + model.safetensors or shards)')
    .requiredOption('-o, --out <dir>', 'checkpoint folder to write')
    .option('--name <name>', 'model name in the spec (default: from the folder name)')
    .action(async (format: string, dir: string, options: { out: string; name?: string }) => {
      const { runImport } = await import('./commands/import.js');
      setExit(runImport(format, dir, options, io));
    });

  cli
    .command('export')
    .description('export a checkpoint: `moe export hf CHECKPOINT -o DIR` writes config.json + model.safetensors for HF transformers')
    .argument('<format>', 'the target format: hf')
    .argument('<checkpoint>', 'checkpoint folder')
    .requiredOption('-o, --out <dir>', 'folder to write')
    .option('--dtype <dtype>', 'weights dtype: f32 or bf16', 'f32')
    .action(async (format: string, checkpoint: string, options: { out: string; dtype?: string }) => {
      const { runExport } = await import('./commands/export.js');
      setExit(runExport(format, checkpoint, options, io));
    });

  cli
    .command('train')
    .description('run a pretrain or sft stage of a spec: metrics.jsonl and checkpoints in runs/STAGE')
    .argument('<spec>', '.moe spec file')
    .option('--stage <name>', 'the stage (default: the first pretrain stage)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu, tensorflow or cuda (auto: cuda when it opens)', 'auto')
    .option('--steps <n>', 'train this many steps instead of the stage\'s length')
    .option('-o, --out <dir>', 'run folder (default: runs/STAGE)')
    .option('--resume', 'continue from the run folder\'s latest checkpoint')
    .option('--force', "start over in a run folder of moe's that holds an earlier run (deletes only what moe wrote)")
    .option('--skip-nonfinite', 'skip a batch with a NaN/Inf loss or gradient instead of stopping')
    .action(async (spec: string, options: TrainCliOptions) => {
      const { runTrain } = await import('./commands/train.js');
      setExit(await runTrain(spec, options, io));
    });

  cli
    .command('run')
    .description('run a pipeline or stage with the stages it depends on, each in OUT/STAGE; completed stages are skipped')
    .argument('<spec>', '.moe spec file')
    .argument('[target]', 'a pipeline or stage (default: the only pipeline, `default`, or the one named like the file)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu, tensorflow or cuda (auto: cuda when it opens)', 'auto')
    .option('-o, --out <dir>', 'folder of the run folders', 'runs')
    .option('--force', 'rerun the target\'s stages even when done')
    .option('--steps <n>', 'cap every training stage at this many steps (smoke runs)')
    .action(async (spec: string, target: string | undefined, options: { backend?: string; out?: string; force?: boolean; steps?: string }) => {
      const { runRun } = await import('./commands/run.js');
      setExit(await runRun(spec, target, options, io));
    });

  cli
    .command('plot')
    .description('draw a run\'s loss, learning rate and expert load per layer as an SVG (RUN/plot.svg); several runs overlaid')
    .argument('<runs...>', 'run folders written by `moe train` or `moe run` (have metrics.jsonl)')
    .option('-o, --out <file>', 'SVG file to write (default: RUN/plot.svg; needed for several runs)')
    .action(async (run: string[], options: { out?: string }) => {
      const { runPlot } = await import('./commands/plot.js');
      setExit(runPlot(run, options, io));
    });

  cli
    .command('init')
    .description('write a checkpoint of freshly initialised weights for a model of a spec (seeded)')
    .argument('<spec>', '.moe spec file')
    .requiredOption('-o, --out <dir>', 'checkpoint folder to write')
    .option('--model <name>', 'which model, when the spec has several')
    .option('--seed <n>', 'initialisation seed', '0')
    .option('--tokenizer <name>', 'the tokenizer block the checkpoint carries (default: the model\'s training stage\'s, else the spec\'s only one)')
    .action(async (spec: string, options: { out: string; model?: string; seed?: string; tokenizer?: string }) => {
      const { runInit } = await import('./commands/init.js');
      setExit(await runInit(spec, options, io));
    });

  cli
    .command('logits')
    .description('print the logits at every position for token ids: `moe logits CHECKPOINT --ids 3,17,42`')
    .argument('<checkpoint>', 'checkpoint folder')
    .requiredOption('--ids <ids>', 'comma-separated token ids')
    .option('--json', 'print {"logits": number[][]} with every logit')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu, tensorflow or cuda (auto: cuda when it opens)', 'auto')
    .action(async (checkpoint: string, options: { ids: string; json?: boolean; backend?: string }) => {
      const { runLogits } = await import('./commands/logits.js');
      setExit(await runLogits(checkpoint, options, io));
    });

  cli
    .command('generate')
    .description('continue prompts from a checkpoint with a KV cache: `moe generate CKPT --prompt "What is 12+30?"`')
    .argument('<checkpoint>', 'checkpoint folder')
    .option('--prompt <text>', 'one prompt, streamed to stdout')
    .option('--ids <ids>', 'one prompt as comma-separated token ids')
    .option('--prompts <file>', 'a JSONL file of prompts, one JSON line per completion out')
    .option('--field <name>', 'the prompt field of --prompts records', 'prompt')
    .option('-o, --out <file>', 'write the JSONL completions here instead of stdout')
    .option('--max-new-tokens <n>', 'new tokens per prompt at most (1 to 2^24, as a stage\'s max_new_tokens)', '64')
    .option('--temperature <t>', '0 = greedy', '0')
    .option('--top-k <k>', 'sample among the k most likely; 0 = off', '0')
    .option('--top-p <p>', 'nucleus sampling mass; 1 = off', '1')
    .option('--min-p <p>', 'drop tokens below p × the most likely; 0 = off', '0')
    .option('--repetition-penalty <r>', 'penalise tokens already seen; 1 = off', '1')
    .option('--seed <n>', 'sampling seed (each prompt has its own stream)', '0')
    .option('--stop <strings...>', 'stop a completion once it contains one of these')
    .option('--batch <n>', 'prompts per batch', '32')
    .option('--cache <mode>', 'MLA cache: latent (compressed, absorbed) or naive (expanded keys/values)', 'latent')
    .option('--tokenizer <file>', 'an HF tokenizer.json (default: the checkpoint\'s own tokenizer.json)')
    .option('--json', 'print {"ids", "text", "finish"} instead of streaming text')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu, tensorflow or cuda (auto: cuda when it opens)', 'auto')
    .action(async (checkpoint: string, options: GenerateCliOptions) => {
      const { runGenerate } = await import('./commands/generate.js');
      setExit(await runGenerate(checkpoint, options, io));
    });

  cli
    .command('score')
    .description('score completions with a spec\'s reward, offline: `moe score SPEC REWARD --input rows.jsonl [--json]`')
    .argument('<spec>', '.moe spec file')
    .argument('<reward>', 'the reward block to score with')
    .option('--input <file>', 'JSON Lines: {"completion": "...", "tokens"?: n, ...the sample\'s fields} per line')
    .option('--completion <text>', 'one completion to score')
    .option('--sample <json>', 'with --completion: the sample\'s fields as a JSON object (e.g. {"tests": [...]})')
    .option('--json', 'print one JSON object per row: {line, total, scores, problems}')
    .action(async (spec: string, reward: string, options: { input?: string; completion?: string; sample?: string; json?: boolean }) => {
      const { runScore } = await import('./commands/score.js');
      setExit(await runScore(spec, reward, options, io));
    });

  cli
    .command('explain')
    .description('explain a diagnostic code, e.g. `moe explain MOE4102`')
    .argument('<code>', 'diagnostic code')
    .action((code: string) => {
      setExit(runExplain(code, io));
    });
  return cli;
}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exit: number = EXIT.ok;
  try {
    await program(io, (code) => (exit = code)).parseAsync([...argv], { from: 'user' });
    return exit;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version exit 0; bad usage exits 2
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof UsageError) {
      io.stderr(`error: ${error.message}\n${error.help ? `help: ${error.help}\n` : ''}`);
      return EXIT.usage;
    }
    if (error instanceof RuntimeError) {
      // input the runtime refused (a checkpoint that does not match, a model too big): exit 1
      io.stderr(`error: ${error.message}\n${error.help ? `help: ${error.help}\n` : ''}`);
      return EXIT.specErrors;
    }
    io.stderr(`internal error: ${(error as Error).message ?? String(error)}\nplease report it with the spec that caused it\n`);
    if (debugRequested()) io.stderr(`${(error as Error).stack ?? ''}\n`);
    return EXIT.usage;
  }
}
