"""The argparse types of ``xpgrad train``'s flags: layer sizes, bounded numbers, fractions,
the clip norm (a number, or none).

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


def _number(kind, low, strict=True):
    """An argparse type: a finite ``kind`` above ``low`` (``>= low`` unless ``strict``)."""
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


def _positive(kind):
    return _number(kind, 0)


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
        return _positive(float)(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e} (or none to clip nothing)") from None
