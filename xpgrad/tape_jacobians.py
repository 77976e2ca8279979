"""``GradientTape.jacobian`` and ``batch_jacobian`` (TensorFlow's): a mixin of ``GradientTape``
whose methods check TensorFlow's options and hand the tape to ``jacobians.py``.

>>> import xpgrad as xg
>>> x = xg.asarray([1.0, 3.0])
>>> with xg.GradientTape() as tape:
...     tape.watch(x)
...     y = x * x
>>> tape.jacobian(y, x).tolist()
[[2.0, 0.0], [0.0, 6.0]]
"""
from __future__ import annotations


class TapeJacobians:
    """The Jacobian methods of ``GradientTape``."""

    def jacobian(self, target, sources=None, unconnected_gradients="none",
                 parallel_iterations=None, experimental_use_pfor=True, *, source=None):
        """Full Jacobian, shape ``target.shape + source.shape``, one reverse pass per entry;
        for a list of sources, a list of Jacobians from the same passes (TensorFlow's).
        ``parallel_iterations`` and ``experimental_use_pfor`` are TensorFlow's, accepted and
        checked (the passes run one after another either way); ``source=`` is ``sources``.

        >>> import xpgrad as xg
        >>> x = xg.asarray([1.0, 2.0])
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * x
        >>> tape.jacobian(y, x).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
        """
        if (sources is None) == (source is None):
            raise TypeError("jacobian() takes the sources once: as sources (TensorFlow's "
                            "name) or source=")
        _tf_options(parallel_iterations, experimental_use_pfor, "jacobian")
        return (_jacobians or _import_jacobians()).jacobian(
            self, target, source if sources is None else sources, unconnected_gradients)

    def batch_jacobian(self, target, source, unconnected_gradients="none",
                       parallel_iterations=None, experimental_use_pfor=True):
        """Each example's Jacobian, as TensorFlow's: ``result[b]`` is ``d target[b] / d
        source[b]``, shape ``(B,) + target.shape[1:] + source.shape[1:]``, in one reverse pass
        per entry of one example. Example ``b`` of ``target`` must depend on example ``b`` of
        ``source`` only (other examples' contributions would be summed in).

        >>> import xpgrad as xg
        >>> x = xg.asarray([[1.0, 2.0], [3.0, 4.0]])
        >>> with xg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x ** 2
        >>> tape.batch_jacobian(y, x).tolist()
        [[[2.0, 0.0], [0.0, 4.0]], [[6.0, 0.0], [0.0, 8.0]]]
        """
        _tf_options(parallel_iterations, experimental_use_pfor, "batch_jacobian")
        return (_jacobians or _import_jacobians()).batch_jacobian(self, target, source,
                                                                   unconnected_gradients)


def _tf_options(parallel_iterations, experimental_use_pfor, who):
    """Check TensorFlow's jacobian options, which change nothing here."""
    if parallel_iterations is not None and (isinstance(parallel_iterations, bool) or not
                                            isinstance(parallel_iterations, int)
                                            or parallel_iterations < 1):
        raise ValueError(f"{who}: parallel_iterations must be None or an integer >= 1, got "
                         f"{parallel_iterations!r}")
    if not isinstance(experimental_use_pfor, bool):
        raise TypeError(f"{who}: experimental_use_pfor must be True or False, got "
                        f"{experimental_use_pfor!r}")


#: xpgrad.jacobians once imported: it imports the ops, which import the tape this mixin is part
#: of, and an import statement per call cost about a microsecond
_jacobians = None


def _import_jacobians():
    global _jacobians
    from . import jacobians

    _jacobians = jacobians
    return jacobians
