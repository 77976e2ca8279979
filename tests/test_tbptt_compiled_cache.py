"""tbptt_train(compile=True) keeps its traced update per model, loss and optimizer without
keeping any of them alive: a model whose loss is its own method dies with its programs, a
loss made afresh for every call does not grow the cache (and warns that it retraces), and the
same loss and optimizer reuse the program."""
import gc
import warnings
import weakref

import pytest

import xpgrad as xg
from xpgrad.nn import tbptt

INPUTS, TARGETS = xg.ones((2, 10, 3)), xg.zeros((2, 10, 4))


class Net(xg.nn.LSTM):
    def loss(self, outputs, targets):
        return xg.losses.mse(outputs, targets)


def test_a_model_whose_loss_is_its_method_is_freed():
    def run():
        model = Net(3, 4, rng=0)
        tbptt.tbptt_train(model, model.loss, xg.optim.SGD(0.1), INPUTS, TARGETS, k1=5,
                          compile=True)
        return weakref.ref(model)

    refs = [run() for _ in range(3)]
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_the_same_loss_and_optimizer_reuse_the_program():
    model, opt = Net(3, 4, rng=0), xg.optim.SGD(0.1)
    counts = []
    for _ in range(3):
        tbptt.tbptt_train(model, model.loss, opt, INPUTS, TARGETS, k1=5, compile=True)
        (entry,) = tbptt._COMPILED[model].values()
        counts.append((id(entry[2]), entry[2].trace_count))
    assert counts[0][0] == counts[1][0] == counts[2][0]          # one Function ...
    assert counts[1][1] == counts[2][1] > 0        # ... traced in the second call only


def test_a_fresh_lambda_per_call_retraces_with_a_warning_and_a_bounded_cache():
    model, opt = Net(3, 4, rng=0), xg.optim.SGD(0.1)
    keep = []                     # alive, so that no id is reused: the cache's worst case
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(tbptt.PER_MODEL + 2):
            keep.append(lambda o, t: xg.losses.mse(o, t))
            tbptt.tbptt_train(model, keep[-1], opt, INPUTS, TARGETS, k1=5, compile=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "pass the same function object" in messages[0]
    assert len(tbptt._COMPILED[model]) == tbptt.PER_MODEL
    assert tbptt._COMPILED[model].made == tbptt.PER_MODEL + 2


def test_a_plain_function_without_variables_is_told_to_name_them():
    layer = xg.nn.LSTM(3, 4, rng=0)
    opt = xg.optim.Adam(0.01)
    with pytest.raises(TypeError, match="has no trainable_variables; give the Variables to "
                                        "train as variables="):
        tbptt.tbptt_train(lambda x, s: layer(x, s), xg.losses.mse, opt, INPUTS, TARGETS, k1=5)
    result = tbptt.tbptt_train(lambda x, s: layer(x, s), xg.losses.mse, opt, INPUTS, TARGETS,
                               k1=5, variables=layer.trainable_variables)
    assert len(result.losses) == 2
