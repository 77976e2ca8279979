"""The mark of a test whose traced function appends to a list or sets a counter on purpose (to
count the calls that run as Python, the warm-up and the trace, as a replay runs none; or to leak
a tensor out of the trace): the ``SideEffectWarning`` the trace gives for it is expected, and
tests/test_function_side_effects.py checks that warning itself."""
import pytest

ON_PURPOSE = pytest.mark.filterwarnings("ignore::xpgrad.jit.SideEffectWarning")
