/** `npm run bench NAME [ARGS…]`: the benchmarks. Each prints ratios against a reference measured in the same run. */
import { benchCheck } from './check.js';
import { benchService } from './service.js';
import { benchCompile } from './compile.js';
import { benchBackends } from './backends.js';
import { benchTrain } from './train.js';
import { benchDecode } from './decode.js';
import { benchProfile } from './profile.js';

const benches: Record<string, (args: string[]) => void | Promise<void>> = {
  check: (args) => benchCheck(args[0], args[1] ? Number(args[1]) : undefined),
  service: (args) => benchService(args[0], args[1] ? Number(args[1]) : undefined),
  compile: (args) => benchCompile(args[0], args[1] ? Number(args[1]) : undefined),
  backends: (args) => benchBackends(args[0], args[1] ? Number(args[1]) : undefined),
  train: (args) => benchTrain(args[0], args[1] ? Number(args[1]) : undefined),
  decode: (args) => benchDecode(args[0], args[1] ? Number(args[1]) : undefined, args[2]),
  profile: (args) => benchProfile(args[0], args[1], args[2] ? Number(args[2]) : undefined, args[3]),
};

const [name = 'check', ...args] = process.argv.slice(2);
const bench = benches[name];
if (!bench) {
  console.error(`unknown benchmark ${name}; available: ${Object.keys(benches).join(', ')}`);
  process.exitCode = 2;
} else {
  await bench(args);
}
