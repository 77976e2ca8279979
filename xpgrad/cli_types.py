"""The argparse types of ``xpgrad train``'s flags and of the example and benchmark scripts: layer
sizes, bounded numbers (``positive``), fractions, the clip norm (a number, or none), a backend's
name (``backend_name``, ``backend_list``), names from a fixed set (``names``), a source tree
(``source_tree``), each a one-line error (exit 2) instead of a traceback.

>>> _hidden("128,64")
[128, 64]
"""
from __future__ import annotations

import argparse
import math


def _hidden(text):
    if "," in text and not all(p.strip() for p in text.split(",")):
        raise argparse.ArgumentTypeError(f"empty layer size in {text!r} (sizes like 128 or "
                                         "128,64)")
    try:
        sizes = [int(s) for s in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 128 or 128,64, got {text!r}")
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive integers, got {text!r}")
    return sizes


def number(kind, low, strict=True):
    """An argparse type: a finite ``kind`` above ``low`` (``>= low`` unless ``strict``).

    >>> number(int, 1, strict=False)("1")
    1
    """
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if not math.isfinite(value) or (value <= low if strict else value < low):
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(
                f"must be {what} {'>' if strict else '>='} {low:g}, got {text}")
        return value
    return parse


def at_least(kind, low):
    """An argparse type: a finite ``kind`` >= ``low``.

    >>> at_least(int, 0)("0")
    0
    """
    return number(kind, low, strict=False)


def positive(kind):
    """An argparse type: a finite ``kind`` (int or float) above 0.

    >>> positive(int)("3")
    3
    """
    return number(kind, 0)



def backend_name(text):
    """An argparse type: the name of a backend that can run here (``xg.get_backend``), else
    its error as argparse's one line.

    >>> backend_name("numpy")
    'numpy'
    """
    from .backend import BackendUnavailableError, UnknownBackendError, get_backend

    try:
        get_backend(text)
    except (UnknownBackendError, BackendUnavailableError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def backend_list(text):
    """An argparse type: comma-separated names of backends that can run here, none twice.

    >>> backend_list("numpy")
    ['numpy']
    """
    got = [n.strip() for n in str(text).split(",")]
    if len(set(got)) < len(got):
        raise argparse.ArgumentTypeError(f"a backend is named twice in {text!r}")
    return [backend_name(n) for n in got]


def names(*choices):
    """An argparse type: a comma-separated list of ``choices``, none twice.

    >>> names("sce", "mlp")("mlp,sce")
    ['mlp', 'sce']
    """
    def parse(text):
        got = [n.strip() for n in str(text).split(",")]
        bad = [n for n in got if n not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown name(s) {', '.join(map(repr, bad))} in {text!r}; choose from "
                f"{','.join(choices)} (comma-separated)")
        if len(set(got)) < len(got):
            raise argparse.ArgumentTypeError(f"a name is given twice in {text!r}")
        return got
    return parse


def source_tree(text):
    """An argparse type: a directory holding an xpgrad source tree (``xpgrad/__init__.py``), as
    the benchmarks' ``--before`` takes an older checkout to run beside this one.

    >>> import os
    >>> source_tree(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) != ""
    True
    """
    import os

    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory (give an older checkout "
                                         f"of xpgrad, e.g. from git worktree add)")
    if not os.path.isfile(os.path.join(text, "xpgrad", "__init__.py")):
        raise argparse.ArgumentTypeError(f"{text!r} holds no xpgrad/__init__.py: not an xpgrad "
                                         f"source tree")
    return text


def _fraction(text):
    """An argparse type: a number strictly between 0 and 1.

    >>> _fraction("0.1")
    0.1
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction strictly between 0 and 1, got "
                                         f"{text}")
    return value


#: what ``--clip-norm none`` (or ``off``) parses to: clipping off, also over a resumed run's
CLIP_OFF = "none"


def _clip_norm(text):
    """``--clip-norm``'s type: a finite number > 0, or none/off (no clipping)."""
    if text.strip().lower() in ("none", "off"):
        return CLIP_OFF
    try:
        return positive(float)(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e} (or none to clip nothing)") from None
