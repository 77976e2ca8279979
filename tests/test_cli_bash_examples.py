"""examples/char_lm.py, examples/sine.py and examples/word_lm.py as a new user runs them: a
setting they cannot use is one argparse line (``<script>: error: ...``, exit 2) before any
training, never a traceback."""
import os
import subprocess
import sys

import pytest

import xpgrad as xg

from conftest import EXAMPLES, backend_report, load_example
from script_runs import run_lines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BAD = [
    ("sine.py", ["--length", "1"], "argument --length: must be an integer >= 22"),
    ("sine.py", ["--batch-size", "0"], "argument --batch-size: must be an integer >= 1"),
    ("sine.py", ["--hidden", "0"], "argument --hidden: must be an integer >= 1"),
    ("sine.py", ["--k1", "5", "--k2", "1"], "--k2 1 is below --k1 5"),
    ("sine.py", ["--learning-rate", "-1"], "argument --learning-rate: must be a finite number > 0"),
    ("sine.py", ["--backend", "nope"], "argument --backend: unknown backend 'nope'"),
    ("sine.py", ["--plot", "no/such/dir/a.png"], "argument --plot: the directory of"),
    ("char_lm.py", ["--chars", "10"], "10 characters are too few for --batch-size 32"),
    ("char_lm.py", ["--chars", "2000", "--batch-size", "5000"], "too few for --batch-size 5000"),
    ("char_lm.py", ["--temperature", "0"], "argument --temperature: must be a finite number > 0"),
    ("char_lm.py", ["--hidden", "0"], "argument --hidden: must be an integer >= 1"),
    ("char_lm.py", ["--k2", "5"], "--k2 5 is below --seq-len 50"),
    ("char_lm.py", ["--backend", "nope"], "argument --backend: unknown backend 'nope'"),
    # the sample's prime was filtered to the training text's characters without a word
    ("char_lm.py", ["--prime", "Zoë, 42 Zoë"],
     "argument --prime: characters not in the training text: 'Z', 'ë', '4', '2'"),
    ("char_lm.py", ["--chars", "2000", "--prime", "Quiet\tnight"],
     "argument --prime: characters not in the training text (its first 2000 characters, "
     "--chars 2000): 'Q', '\\t'"),
    ("word_lm.py", ["--tied", "--emsize", "16"], "--tied needs --nhid equal to --emsize"),
    ("word_lm.py", ["--model", "Transformer", "--tied"], "--tied is for the recurrent models"),
    ("word_lm.py", ["--model", "Transformer", "--nhead", "5"],
     "--emsize 32 must be divisible by --nhead 5"),
    ("word_lm.py", ["--dropout", "1"], "argument --dropout: must be in [0, 1), got 1.0"),
    ("word_lm.py", ["--nhid", "0"], "argument --nhid: must be an integer > 0"),
    ("word_lm.py", ["--model", "RNN"], "argument --model: invalid choice: 'RNN'"),
    ("word_lm.py", ["--batch-size", "100000"], "too few for 100000 streams (lower --batch-size)"),
    ("word_lm.py", ["--data", "no/such/file.txt"], "argument --data: 'no/such/file.txt' does"),
    ("word_lm.py", ["--data", "."], "lacks train.txt, valid.txt, test.txt"),
    ("word_lm.py", ["--backend", "nope"], "argument --backend: unknown backend 'nope'"),
]


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """Every command line of BAD run in one process (one start instead of 26): its results."""
    runs = run_lines([(os.path.join(EXAMPLES, script), ["--steps", "1", *args])
                      for script, args, _ in BAD], cwd=tmp_path_factory.mktemp("bad"),
                     env={**os.environ, "PYTHONPATH": ROOT}, timeout=600)
    return {(script, tuple(args)): run for (script, args, _), run in zip(BAD, runs)}


@pytest.mark.parametrize("script,args,message", BAD, ids=[f"{s}{' '.join(a)}" for s, a, _ in BAD])
def test_a_setting_the_example_cannot_use_is_one_line(script, args, message, refused):
    out = refused[script, tuple(args)]
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    last = out.stderr.splitlines()[-1]
    assert last.startswith(f"{script}: error: ") and message in last, last
    assert out.stdout == ""                  # stopped before training


def test_sine_scores_the_shortest_length_it_takes(tmp_path):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "sine.py"), "--steps", "1",
                          "--hidden", "4", "--length", "22"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test MSE nan" not in out.stdout and "test MSE" in out.stdout


def test_char_lm_sample_refuses_a_prime_it_cannot_read():
    """``sample`` dropped the prime's unknown characters (and primed with character 0 when
    none was left); called from Python it says which."""
    char_lm = load_example("char_lm")
    vocab = sorted("abc ")
    model = char_lm.CharLM(len(vocab), 4, rng=xg.random.default_rng(0))
    with pytest.raises(ValueError, match=r"prime: characters not in the training text: 'Z', 'd'"):
        char_lm.sample(model, vocab, "Zab dZ", 3)
    assert len(char_lm.sample(model, vocab, "ab c", 3)) == 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_char_lm_sample_feeds_the_model_on_its_own_backend(backend):
    # sample() made its inputs on numpy whatever the model's backend: a model built on numba
    # (or on the default, under XPGRAD_BACKEND=numba) raised MixedBackendError; the draws are
    # the same characters on either backend
    if not backend_report()[backend]["available"]:
        pytest.skip(f"needs the {backend} backend")
    char_lm = load_example("char_lm")
    vocab = sorted("abc ")
    drawn = {}
    for be in ("numpy", backend):
        model = char_lm.CharLM(len(vocab), 4, rng=xg.random.default_rng(0, backend=be),
                               backend=be)
        drawn[be] = char_lm.sample(model, vocab, "ab c", 5)
    assert len(drawn[backend]) == 5 and drawn[backend] == drawn["numpy"]
