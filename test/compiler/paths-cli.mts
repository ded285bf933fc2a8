// `moe` from the TypeScript sources, for tests that must run the CLI in a child process.
import { main } from '../../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
