"""A misspelt keyword of an optimizer, a schedule, ReduceLROnPlateau or the moving average
gets the closest name the class takes, as the layers' do (one helper,
xpgrad/keyword_checks.py); PyTorch's and optax's names get xpgrad's."""
import copy
import functools
import pickle
import re

import pytest

import xpgrad as xg

optim = xg.optim


def _variables():
    return [xg.Variable(xg.ones(2))]


@pytest.mark.parametrize("make, owner, typo, meant", [
    (lambda **k: optim.SGD(0.1, **k), "SGD", "momentun", "momentum"),
    (lambda **k: optim.SGD(0.1, **k), "SGD", "nesterv", "nesterov"),
    (lambda **k: optim.Adam(0.1, **k), "Adam", "beta1", "beta_1"),
    (lambda **k: optim.Adam(0.1, **k), "Adam", "beta2", "beta_2"),
    (lambda **k: optim.Adam(0.1, **k), "Adam", "weight_decy", "weight_decay"),
    (lambda **k: optim.AdamW(0.1, **k), "AdamW", "weight_decy", "weight_decay"),
    (lambda **k: optim.Adam(0.1, **k), "Adam", "clipnrm", "clipnorm"),
    (lambda **k: optim.LBFGS(**k), "LBFGS", "max_iters", "max_iter"),
    (lambda **k: optim.CosineDecay(0.1, 100, **k), "CosineDecay", "alpah", "alpha"),
    (lambda **k: optim.CosineDecay(0.1, **k), "CosineDecay", "decay_step", "decay_steps"),
    (lambda **k: optim.ExponentialDecay(0.1, 10, **k), "ExponentialDecay", "decay_rat",
     "decay_rate"),
    (lambda **k: optim.OneCycle(0.1, **k), "OneCycle", "total_step", "total_steps"),
    (lambda **k: optim.LinearWarmup(0.1, **k), "LinearWarmup", "warmup_step", "warmup_steps"),
    (lambda **k: optim.ReduceLROnPlateau(optim.SGD(0.1), **k), "ReduceLROnPlateau",
     "patiance", "patience"),
    (lambda **k: optim.EarlyStopping(**k), "EarlyStopping", "restore_best_weight",
     "restore_best_weights"),
    (lambda **k: optim.ExponentialMovingAverage(_variables(), **k), "ExponentialMovingAverage",
     "decy", "decay"),
])
def test_a_misspelt_keyword_gets_the_closest_name(make, owner, typo, meant):
    with pytest.raises(TypeError) as err:
        make(**{typo: 0.5})
    assert str(err.value) == (f"{owner}() got an unexpected keyword argument {typo!r}; did you "
                              f"mean {meant}=?")


def test_a_keyword_near_no_name_says_the_class_has_no_such_option():
    with pytest.raises(TypeError) as err:
        optim.Adam(0.1, fused=True)
    assert str(err.value) == ("Adam() got an unexpected keyword argument 'fused' (xpgrad's "
                              "Adam does not have this option)")


@pytest.mark.parametrize("betas", [(0.8, 0.95), [0.8, 0.95]])
@pytest.mark.parametrize("owner", ["Adam", "AdamW", "Lion"])
def test_torch_betas_is_said_as_beta_1_and_beta_2_with_its_values(owner, betas):
    with pytest.raises(TypeError) as err:
        getattr(optim, owner)(0.1, betas=betas)
    assert str(err.value) == (f"{owner}() got an unexpected keyword argument 'betas'; xpgrad "
                              "uses Keras' names: beta_1= and beta_2= (betas="
                              f"{betas!r} is beta_1=0.8, beta_2=0.95)")
    said = getattr(optim, owner)(0.1, beta_1=0.8, beta_2=0.95)
    assert (said.beta_1, said.beta_2) == (0.8, 0.95)


@pytest.mark.parametrize("key, ours", [("b1", "beta_1= (optax's b1)"),
                                       ("b2", "beta_2= (optax's b2)")])
def test_optax_b1_and_b2_get_keras_names(key, ours):
    with pytest.raises(TypeError, match=rf"^Adam\(\) got an unexpected keyword argument "
                                        rf"'{key}'; xpgrad uses Keras' names: {re.escape(ours)}$"):
        optim.Adam(0.1, **{key: 0.9})


@pytest.mark.parametrize("make, owner, key, words", [
    (lambda **k: optim.CosineDecay(0.1, **k), "CosineDecay", "T_max",
     "; xpgrad uses Keras' names: decay_steps= (CosineDecay)"),
    (lambda **k: optim.CosineDecay(0.1, 100, **k), "CosineDecay", "eta_min",
     "; xpgrad's cosine schedules take alpha=, the final rate as a fraction of "
     "initial_learning_rate (eta_min / lr)"),
    (lambda **k: optim.CosineDecayRestarts(0.1, **k), "CosineDecayRestarts", "T_0",
     "; xpgrad uses Keras' names: first_decay_steps= (CosineDecayRestarts)"),
    (lambda **k: optim.StepDecay(step_size=3, **k), "StepDecay", "lr",
     "; xpgrad uses Keras' names: initial_learning_rate="),
    (lambda **k: optim.StepDecay(0.1, 3, **k), "StepDecay", "last_epoch",
     ": a schedule is a function of the step, schedule(step), with no state to resume; "
     "leave it out"),
])
def test_torch_lr_scheduler_keywords_get_xpgrads(make, owner, key, words):
    with pytest.raises(TypeError) as err:
        make(**{key: 1})
    assert str(err.value) == f"{owner}() got an unexpected keyword argument {key!r}{words}"


def test_checked_classes_still_copy_pickle_and_load_their_config():
    schedule = optim.CosineDecay(0.1, decay_steps=100, alpha=0.1)
    for twin in (copy.deepcopy(schedule), pickle.loads(pickle.dumps(schedule)),
                 optim.CosineDecay.from_config(schedule.get_config())):
        assert twin.get_config() == schedule.get_config()
        assert twin(50) == schedule(50)
    plateau = optim.ReduceLROnPlateau(optim.SGD(0.1), patience=3)
    assert copy.deepcopy(plateau).patience == 3


def _with_a_verbose_keyword(init):
    @functools.wraps(init)
    def wrapper(self, *args, verbose=False, **kwargs):
        self.verbose = verbose
        init(self, *args, **kwargs)
    return wrapper


def test_a_decorated_init_takes_the_wrappers_keywords_and_positionals():
    # functools.wraps sets __wrapped__: the wrapper's own signature is what the call meets
    class Net(xg.nn.Module):
        @_with_a_verbose_keyword
        def __init__(self, width):
            super().__init__()
            self.width = width

    class Decayed(optim.SGD):
        @_with_a_verbose_keyword
        def __init__(self, learning_rate, momentum=0.0):
            super().__init__(learning_rate, momentum=momentum)

    assert Net(3, verbose=True).verbose and Net(width=3).width == 3
    assert Decayed(0.1, 0.9, verbose=True).momentum == 0.9
    with pytest.raises(TypeError, match="momentun"):
        Decayed(0.1, momentun=0.9)      # the wrapped __init__'s own refusal, from Python
