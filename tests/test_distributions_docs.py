"""The examples of docs/distributions.md run and do what they say: the overview's, the VAE's
negative ELBO falls, REINFORCE learns the best arm."""
from __future__ import annotations

import re

import pytest

import xpgrad as xg
from docs_text import section


def _blocks(text):
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_docs_vae_and_reinforce_examples_run(capsys):
    (vae,) = _blocks(section("A VAE's reparameterized Gaussian and its KL term"))
    (reinforce,) = _blocks(section("REINFORCE with a Categorical policy"))
    ns = {}
    exec(vae, ns)
    assert ns["losses"][-1] < 0.1 * ns["losses"][0]
    assert ns["losses"][-1] < 10.0          # under the 8 of predicting zeros for N(0, 1) data
    ns = {}
    exec(reinforce, ns)
    assert ns["best"].tolist()[2] > 0.9
    assert capsys.readouterr().out.startswith("negative ELBO ")


def test_overview_example_runs(capsys):
    (code,) = _blocks(section("What each distribution has"))
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


def test_mixture_density_network_example_learns_both_branches(capsys):
    (code,) = _blocks(section("A mixture density network's head"))
    ns = {}
    exec(code, ns)
    printed = float(capsys.readouterr().out.split()[-1])
    assert printed == pytest.approx(float(ns["nll"]), abs=0.006)
    assert printed < 0.0                    # one Gaussian cannot go below 1.05 on these data
