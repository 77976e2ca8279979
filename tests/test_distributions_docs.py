"""The examples of docs/distributions.md and README's "Probability distributions" section run
and do what they say: the VAE's negative ELBO falls, REINFORCE learns the best arm."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import xpgrad as xg

ROOT = Path(__file__).parents[1]


def _blocks(text):
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_docs_vae_and_reinforce_examples_run(capsys):
    vae, reinforce = _blocks((ROOT / "docs" / "distributions.md").read_text())
    ns = {}
    exec(vae, ns)
    assert ns["losses"][-1] < 0.1 * ns["losses"][0]
    assert ns["losses"][-1] < 10.0          # under the 8 of predicting zeros for N(0, 1) data
    ns = {}
    exec(reinforce, ns)
    assert ns["best"].tolist()[2] > 0.9
    assert capsys.readouterr().out.startswith("negative ELBO ")


def test_readme_section_runs(capsys):
    text = (ROOT / "README.md").read_text()
    start = text.index("## Probability distributions: `xg.distributions`\n")
    (code,) = _blocks(text[start:text.index("\n## ", start + 1)])
    ns = {}
    exec(code, ns)
    assert capsys.readouterr().out.strip() == "(16, 2) (2,)"
    # d/dmu of mean(z**2) + KL: 2 mean(z) / 2 + mu, z = mu + sigma eps with the seed's eps
    eps = (ns["z"] - ns["mu"]) / xg.exp(ns["log_sigma"])
    want = (2 * xg.mean(ns["z"], axis=0) / 2 + ns["mu"]).numpy()
    assert ns["dmu"].numpy() == pytest.approx(want, rel=1e-5)
    assert eps.numpy() == pytest.approx(xg.random.default_rng(0).standard_normal((16, 2))
                                        .numpy(), rel=1e-5, abs=1e-6)


def test_the_module_docstring_lists_every_public_name():
    doc = xg.distributions.__doc__
    for name in xg.distributions.__all__:
        if name not in ("Distribution", "constraints"):
            assert f"``{name}``" in doc or f"``{name}(" in doc, name
