"""The examples in examples/ run on a short budget and learn what they claim to learn."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXAMPLES, backend_report, load_example as load


def _backends():
    out = []
    for name in ("numpy", "numba"):
        row = backend_report().get(name, {"available": False, "reason": "not registered"})
        out.append(pytest.param(name, marks=() if row["available"] else pytest.mark.skip(
            reason=f"{name}: {row['reason']}")))
    return out


BACKENDS = _backends()


@pytest.mark.parametrize("backend", BACKENDS)
def test_xor_classifies_all_four_points(backend):
    result = load("xor").run(steps=500, backend=backend)
    assert result["loss"][-1] < 0.05 * result["loss"][0]
    assert result["correct"] == 4, result["outputs"]
    np.testing.assert_array_less(np.abs(result["outputs"] - [0, 1, 1, 0]), 0.2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_A_converges_near_10(backend):
    result = load("regression").run(steps=200, backend=backend)
    assert abs(result["A"] - 10.0) < 0.5, result["A"]
    assert np.mean(result["loss"][-20:]) < 0.05 * result["loss"][0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_classification_A_converges_near_minus_1(backend):
    result = load("classification").run(steps=400, learning_rate=0.2, backend=backend)
    assert abs(result["A"] + 1.0) < 0.25, result["A"]
    assert result["accuracy"] > 0.9


@pytest.mark.parametrize("backend", BACKENDS)
def test_himmelblau_reaches_all_four_minima(backend):
    mod = load("himmelblau")
    result = mod.run(steps=150, backend=backend)
    assert (result["distance"] < 1e-3).all(), result["points"]
    assert sorted(set(result["nearest"].tolist())) == [0, 1, 2, 3]
    assert (result["values"] < 1e-6).all()
    # the listed minima are minima: value ~0 there
    assert (mod.himmelblau(mod.MINIMA) < 1e-8).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_word_lm_learns_the_synthetic_grammar(backend):
    """A uniform guess over the 19 words is ln 19 = 2.94 nats; the grammar's own entropy
    is ln(6 * 6 * 4 * 6) / 8 = 0.85 nats per word."""
    result = load("word_lm").run(epochs=6, nlayers=1, sentences=600, dropout=0.0,
                                 backend=backend)
    assert len(result["vocab"]) == 19 and len(result["loss"]) == 42
    assert result["test"] < 1.3 and result["valid"][-1] < 1.3, result["valid"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_word_lm_transformer_learns_the_synthetic_grammar(backend):
    """The causal Transformer encoder sees only its chunk (no state carried): below 1.3 nats
    per word too, against 2.94 for a uniform guess."""
    result = load("word_lm").run(model_type="Transformer", epochs=6, nlayers=1, sentences=600,
                                 dropout=0.0, backend=backend)
    assert result["test"] < 1.3 and result["valid"][-1] < 1.3, result["valid"]


def test_word_lm_reads_a_text_file_or_a_wikitext_directory(tmp_path):
    mod = load("word_lm")
    text = mod.synthetic_text(300, seed=3)
    (tmp_path / "corpus.txt").write_text(text)
    lines = text.splitlines()
    for name, part in (("train", lines[:240]), ("valid", lines[240:270]),
                       ("test", lines[270:])):
        (tmp_path / f"{name}.txt").write_text("\n".join(part))
    for data in (tmp_path / "corpus.txt", tmp_path):
        result = mod.run(data=str(data), model_type="RNN_RELU", nlayers=1, dropout=0.0,
                         epochs=1, steps=2)
        assert len(result["loss"]) == 2 and len(result["vocab"]) == 19
        assert np.isfinite(result["test"])
    train, valid, test, vocab = mod.corpus(str(tmp_path))
    assert (len(train), len(valid), len(test)) == (240 * 8, 30 * 8, 30 * 8)   # 7 words + <eos>


def test_optimizers_all_learn_and_plot(tmp_path):
    plot = tmp_path / "optimizers.png"
    curves = load("optimizers").run(steps=60, plot=str(plot))
    assert set(curves) == {"SGD", "Momentum", "Adagrad", "Adadelta", "Adam"}
    for name, losses in curves.items():
        assert len(losses) == 60
        assert losses[-1] < 0.95 * losses[0], (name, losses[0], losses[-1])
    assert curves["Adam"][-1] < 0.5 * curves["Adam"][0]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("backend", BACKENDS)
def test_mnist_cnn_learns_the_digits(backend):
    result = load("mnist_cnn").run(epochs=2, backend=backend)       # about 0.5 s a backend
    assert result["accuracy"] > 0.9, result["accuracy"]
    assert np.mean(result["loss"][-20:]) < 0.5 * np.mean(result["loss"][:20])


def test_examples_run_as_scripts_with_flags():
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, "himmelblau.py"),
                          "--backend", "numpy", "--steps", "100"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "minima reached: [0, 1, 2, 3]" in out.stdout


PLAIN = ["xor", "regression", "classification", "himmelblau", "optimizers", "mnist_cnn"]


@pytest.mark.parametrize("name", PLAIN)
@pytest.mark.parametrize("args,message", [
    (["--backend", "nope"], "argument --backend: unknown backend 'nope'"),
    (["--steps", "0"], "argument --steps: must be an integer > 0, got 0"),
    (["--steps", "-3"], "argument --steps: must be an integer > 0, got -3")])
def test_example_refuses_a_bad_setting_in_one_line(name, args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        load(name).main(["--steps", "1", *args])
    assert stop.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert ": error: " in last and message in last, last        # argparse's line, exit 2


# each example as a script: the unified budget flag --steps and --threads, a tiny budget
SCRIPTS = {
    "xor.py": [], "regression.py": [], "classification.py": [], "himmelblau.py": [],
    "mnist_cnn.py": [],
    "optimizers.py": ["--plot", ""],
    "sine.py": ["--hidden", "8", "--length", "40"],
    "char_lm.py": ["--chars", "2000", "--hidden", "16", "--batch-size", "4", "--compile",
                   "--sample-chars", "5"],
    "word_lm.py": ["--model", "GRU", "--tied"],
}


def test_every_example_is_in_the_table():
    assert sorted(SCRIPTS) == sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_example_takes_steps_and_threads(script, tmp_path, capsys):
    out = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), "--steps", "3",
                          "--threads", "1", *SCRIPTS[script]], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    # the refusal is its argument parser's (the run above went through the script's
    # ``__main__``): in this process, as test_example_refuses_a_bad_setting_in_one_line
    with pytest.raises(SystemExit) as stop:
        load(script.removesuffix(".py")).main(["--threads", "0"])
    assert stop.value.code == 2
    assert "argument --threads: must be an integer >= 1" in capsys.readouterr().err
