/**
 * The `moe` command line. Every user mistake ends in a message and an exit status, never a stack
 * trace: 0 clean, 1 errors in the specs, 2 usage or internal errors (MOE_DEBUG=1 shows the stack).
 */
import { Command, CommanderError } from 'commander';
import { runCheck } from './commands/check.js';
import { runCompile } from './commands/compile.js';
import { runExplain } from './commands/explain.js';
import { runFmt } from './commands/fmt.js';
import { EXIT, UsageError, processIo, type CliIo } from './io.js';

function program(io: CliIo, setExit: (code: number) => void): Command {
  const cli = new Command('moe')
    .description('check, compile and run DeepSeek-style Mixture-of-Experts specs (.moe)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run `moe --help` for usage)');

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
      io.stderr(`error: ${error.message}\n`);
      return EXIT.usage;
    }
    io.stderr(`internal error: ${(error as Error).message ?? String(error)}\nplease report it with the spec that caused it\n`);
    if (process.env.MOE_DEBUG) io.stderr(`${(error as Error).stack ?? ''}\n`);
    return EXIT.usage;
  }
}
