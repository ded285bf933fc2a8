/**
 * A micro spec for the `moe run` tests: pretrain → sft → sample → sft on the samples, small enough
 * to train in seconds on the cpu backend, with a two-stage and a four-stage pipeline.
 */
export const PIPELINE_SPEC = `model Mini {
  vocab = 260, dim = 16, layers = 2, context = 64
  init { std = 0.05 }
  attention gqa { heads = 2, kv_heads = 1 }
  layers 0..0 { ffn swiglu { hidden = 32 } }
  layers 1..1 { moe { experts = 4, hidden = 8, top_k = 2, router { balance = bias { rate = 1e-3 } } } }
}
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
