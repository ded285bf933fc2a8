"""Checks a Megatron-Core training log against a spec's expectations.

Usage: python check_log.py LOG EXPECT.json MIN_STEPS

EXPECT.json maps each spec setting to the argument Megatron prints for it ("arguments" block of
_print_args) and the value it must print: {"settings": [[spec setting, argument, value], ...],
"overrides": [[why, argument, value], ...]}. The argument "padded_vocab_size" is read from the
"> padded vocab (... new size: N)" line (Megatron sets it after printing the arguments).
Passes when training ran at least MIN_STEPS iterations, the lm loss of the last logged iteration is
below the first's, and every argument prints its value. Prints one line per check; exit 1 on a failure.
"""
import ast
import json
import re
import sys

log_path, expect_path, min_steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(log_path, errors='replace').read()
expect = json.load(open(expect_path))

printed = {}
block = re.search(r'-+ arguments -+\n(.*?)\n-+ end of arguments -+', text, re.S)
if block:
    for line in block.group(1).splitlines():
        m = re.match(r'\s+(\S+) \.+ (.*)$', line)
        if m:
            printed[m.group(1)] = m.group(2).strip()
vocab = re.search(r'padded vocab \(size: \d+\) with \d+ dummy tokens \(new size: (\d+)\)', text)
if vocab:
    printed['padded_vocab_size'] = vocab.group(1)


def parsed(s):
    try:
        return ast.literal_eval(s)
    except (ValueError, SyntaxError):
        return s


def same(actual, wanted):
    a = parsed(actual)
    if isinstance(a, list) and len(a) == 1 and not isinstance(wanted, list):
        a = a[0]  # nargs='+' options print a one-element list
    if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        return abs(a - wanted) <= 1e-9 * max(1.0, abs(wanted))
    return a == wanted


failures = []


def check(ok, what):
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        failures.append(what)


check(bool(block), 'Megatron printed its arguments')
for kind in ('settings', 'overrides'):
    for setting, arg, wanted in expect[kind]:
        actual = printed.get(arg)
        check(actual is not None and same(actual, wanted), f'{setting} -> {arg} = {wanted!r} (printed {actual})')

losses = {}
for m in re.finditer(r'iteration\s+(\d+)/\s*\d+ \|.*?lm loss: ([0-9.Ee+-]+)', text):
    losses[int(m.group(1))] = float(m.group(2))
steps = sorted(losses)
check(len(steps) >= min_steps, f'trained {len(steps)} logged iterations (at least {min_steps})')
if steps:
    first, last = losses[steps[0]], losses[steps[-1]]
    check(last < first, f'lm loss fell: iteration {steps[0]} {first:.4f} -> iteration {steps[-1]} {last:.4f}')
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
