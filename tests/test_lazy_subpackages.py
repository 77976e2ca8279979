"""Parts the main job (``xpgrad train``) does not use are imported on first use, so
``import xpgrad`` stays light: ``xg.distributions``, ``xg.nn.utils``, ``xg.data``,
``xg.training``, ``xg.threads`` (porting.md's ``xg.threads.limit(1)`` for
torch.set_num_threads(1), with no import of its own). Run in a fresh interpreter, since this one
may have imported them."""
import subprocess
import sys

CODE = """
import sys
import xpgrad as xg
lazy = ["xpgrad.distributions", "xpgrad.nn.utils", "xpgrad.data", "xpgrad.training",
        "xpgrad.threads"]
print([m for m in lazy if m in sys.modules])
print(type(xg.distributions.Normal(0.0, 1.0)).__name__, callable(xg.nn.utils.weight_norm))
from xpgrad.distributions import Categorical
print(Categorical.__name__)
limit = xg.threads.limit(1)
print(limit.threads)
limit.restore()
"""


def test_import_leaves_them_out_and_first_use_brings_them():
    run = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:4] == ["[]", "Normal True", "Categorical", "1"]
