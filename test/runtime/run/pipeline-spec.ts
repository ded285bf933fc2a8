/**
 * A micro spec for the `moe run` tests: pretrain → sft → sample → sft on the samples, small enough
 * to train in seconds on the cpu backend, with a two-stage and a four-stage pipeline.
 */
import { MINI_MODEL } from '../micro-spec.js';

export const PIPELINE_SPEC = `${MINI_MODEL}
tokenizer bytes { kind = byte }
data arith { synthetic = arithmetic { samples = 200, style = r1 } }
data questions { synthetic = arithmetic { samples = 20, style = plain, seed = 2 } }
reward exact {
  accuracy 1.0 = answer { compare = numeric }
}
pretrain base {
  model = Mini, data = arith, tokenizer = bytes
  seq_len = 32, batch = 4 sequences, steps = 3
  optimizer adamw { lr = 1e-2 }
  checkpoint { every = 1 steps, keep = 3 }
  eval { every = 1000 steps, batches = 1 }
  seed = 3
}
sft cold {
  from = base, data = arith
  seq_len = 64, batch = 4 sequences, steps = 3
  optimizer adamw { lr = 1e-3 }
  checkpoint { every = 1 steps, keep = 3 }
  eval { every = 1000 steps, batches = 1 }
}
sample rs { from = cold, prompts = questions, reward = exact, n = 2, max_new_tokens = 16 }
sft final {
  from = cold, data = rs
  seq_len = 64, batch = 4 sequences, epochs = 1
  eval { every = 1000 steps, batches = 1 }
}
pipeline warm { base -> cold }
pipeline full { base -> cold -> rs -> final }
`;
