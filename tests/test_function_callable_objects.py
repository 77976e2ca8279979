"""A Python setting a traced function reads through a callable object's ``__call__`` --
``obj(x)`` where ``__call__`` reads ``self.scale`` and ``self.mode`` -- is guarded as one read
through a named method (``obj.apply(x)``) is (jit/name_guards.py): ``obj(x)`` names no
attribute, so before 2026-12-07 ``__call__`` was never walked and replays kept the traced
``mode`` silently. Reached directly, through ``functools.partial``, from a list or a dict, or
as a bound ``__call__`` kept in a list: each compiled call equals the eager one."""
import functools

import numpy as np
import pytest

import xpgrad as xg

pytestmark = pytest.mark.usefixtures("numpy_default")


class Scaler:
    def __init__(self):
        self.scale, self.mode = 2.0, "mul"

    def __call__(self, x):
        return x * self.scale if self.mode == "mul" else x + self.scale


def _bodies(obj):
    partial, in_list, in_dict, bound = functools.partial(obj), [obj], {"a": obj}, [obj.__call__]
    return {"direct": lambda x: obj(x) - 1.0, "partial": lambda x: partial(x),
            "list": lambda x: in_list[0](x), "dict": lambda x: in_dict["a"](x),
            "bound method in a list": lambda x: bound[0](x)}


@pytest.mark.parametrize("how", list(_bodies(Scaler())))
def test_a_setting_read_through_call_set_anew_is_read_on_the_next_call(how):
    obj = Scaler()
    body = _bodies(obj)[how]
    compiled = xg.function(body)
    x = xg.asarray(np.array([1.0, -2.0]))
    for scale, mode in [(2.0, "mul"), (2.0, "mul"), (3.0, "mul"), (3.0, "add"), (3.0, "mul"),
                        (0.5, "add"), (0.5, "add")]:
        obj.scale, obj.mode = scale, mode
        np.testing.assert_array_equal(compiled(x).numpy(), body(x).numpy(),
                                      err_msg=f"{how}: scale={scale}, mode={mode}")


@pytest.mark.parametrize("how", list(_bodies(Scaler())))
def test_an_unchanged_callable_object_replays_one_trace(how):
    body = _bodies(Scaler())[how]
    compiled = xg.function(body)
    x = xg.asarray(np.array([1.0, -2.0]))
    for _ in range(5):
        np.testing.assert_array_equal(compiled(x).numpy(), body(x).numpy())
    assert compiled.trace_count == 1
