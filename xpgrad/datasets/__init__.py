"""The data files shipped with xpgrad (``digits.npz``; provenance and licence in README.md
here). The loaders are in ``xg.data``: reading a loader's name here says so.

>>> import xpgrad.datasets
>>> try:
...     xpgrad.datasets.load_digits
... except AttributeError as e:
...     print(str(e).split(": ")[2].split(" gives")[0])
xg.data.load_digits(test_fraction=0.2, seed=0)
"""


def __getattr__(name):
    message = f"module {__name__!r} has no attribute {name!r}"
    if not name.startswith("_"):
        message += (": the shipped data are read by xg.data: xg.data.load_digits("
                    "test_fraction=0.2, seed=0) gives a Dataset of NumPy arrays (x_train, "
                    "y_train, x_test, y_test)")
    raise AttributeError(message)
