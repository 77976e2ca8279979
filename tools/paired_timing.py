"""Two versions timed against each other in fresh pairs of worker processes, and the statistics
read from them: the method of the regression gate (tools/asv_gate.py) and of
benchmarks/swapped_kernels.py.

Within a pair the two workers take turns sample by sample (A B, B A, ...), so a change in load
lands on both sides alike. But a pair of processes carries a bias of its own (memory layout,
hash seed, core: a few percent with the same code on both sides) that no order of turns inside
it removes, so the rounds are split among fresh pairs (``pair_rounds``), the side started, built
and timed first alternating from pair to pair, and the interval resamples the pairs, then the
rounds within each (``clustered_interval``): one pair's bias widens it.
"""
from __future__ import annotations

import statistics
from typing import NamedTuple

#: "cpu": the worker's CPU time (time.process_time), which a busy machine's other processes do
#: not add to; "wall": time.perf_counter, as asv's default timer; "thread": the calling thread's
#: CPU time (time.thread_time_ns), without the worker's other threads (a compile in the background)
CLOCKS = ("cpu", "wall", "thread")
SIDES = ("before", "after")


class PairTimes(NamedTuple):
    """One pair of processes' samples of one workload: the side started first, per (side,
    clock) the time per call of each round, and the calls a sample."""
    first: str
    times: dict
    number: int


def pair_rounds(rounds, workers):
    """How many rounds each pair of worker processes times: ``rounds`` split as evenly as can
    be among ``workers`` pairs (fewer where there are fewer rounds), the larger shares first.

    >>> pair_rounds(30, 4), pair_rounds(3, 4)
    ([8, 8, 7, 7], [1, 1, 1])
    """
    pairs = max(1, min(workers, rounds))
    return [rounds // pairs + (p < rounds % pairs) for p in range(pairs)]


def interleaved_times(sides, key, workload, lib, params, rounds, min_time):
    """``(times, number)``: per side and clock, the time per call of each of ``rounds``
    samples of ``number`` calls (at least ``min_time`` seconds), the sides taking turns (A B,
    B A, ...); or ``(why, None)`` where a side cannot build the workload."""
    for w in sides:
        reply = w.ask(build=key, workload=workload, lib=lib, params=params)
        if "unavailable" in reply:
            return f"{w.name}: {reply['unavailable']}", None
        if not reply["xpgrad"].startswith(str(w.site)):
            raise RuntimeError(f"{w.name} imported {reply['xpgrad']}, not its export")
    number = max(w.ask(calibrate=key, min_time=min_time)["number"] for w in sides)
    times = {(w.name, c): [] for w in sides for c in CLOCKS}
    for r in range(rounds):
        for w in (sides if r % 2 == 0 else sides[::-1]):
            reply = w.ask(time=key, number=number)
            for c in CLOCKS:
                times[w.name, c].append(reply[c] / number)
    return times, number


def time_in_fresh_pairs(start, sites, jobs, rounds, workers, min_time, out=None):
    """``(timed, unavailable)``: each job ``(key, workload, lib, params)`` timed ``rounds`` times
    over ``workers`` fresh pairs of processes ``start(site, side)`` (``asv_gate.Worker``; every
    pair times every job, its share of the rounds each), ``timed[key]`` a ``PairTimes`` per
    pair, ``unavailable[key]`` why a side could not build that job (then left out). A line per
    pair goes to ``out`` when given."""
    timed, unavailable = {job[0]: [] for job in jobs}, {}
    shares = pair_rounds(rounds, workers)
    for p, share in enumerate(shares):
        order = SIDES if p % 2 == 0 else SIDES[::-1]
        if out is not None:
            print(f"pair {p + 1}/{len(shares)}: {share} rounds, {order[0]} first", file=out,
                  flush=True)
        sides = [start(sites[side], side) for side in order]
        try:
            for key, workload, lib, params in jobs:
                if key in unavailable:
                    continue
                times, number = interleaved_times(sides, key, workload, lib, params, share,
                                                  min_time)
                if number is None:
                    unavailable[key] = times
                else:
                    timed[key].append(PairTimes(order[0], times, number))
        finally:
            for side in sides:
                side.close()
    return {key: pairs for key, pairs in timed.items() if key not in unavailable}, unavailable


def pooled_ratios(pairs, clock) -> dict:
    """The statistics of ``clock`` over all pairs' rounds (``paired_ratios``), with
    ``interval`` the ``clustered_interval`` of the pairs, ``pairs`` each pair's median ratio and
    the side it started first, ``samples`` each side's times and ``number`` the calls a sample
    (the largest pair's).

    >>> times = {("before", "cpu"): [1.0, 1.0], ("after", "cpu"): [1.1, 1.3]}
    >>> row = pooled_ratios([PairTimes("after", times, 4)], "cpu")
    >>> [(round(ratio, 3), first) for ratio, first in row["pairs"]], row["interval"][0] >= 1.1
    ([(1.2, 'after')], True)
    """
    groups = [[b / a for a, b in zip(pair.times["before", clock], pair.times["after", clock])]
              for pair in pairs]
    samples = {side: [t for pair in pairs for t in pair.times[side, clock]] for side in SIDES}
    row = paired_ratios(samples["before"], samples["after"])
    row.update(interval=clustered_interval(groups), samples=samples,
               pairs=[(statistics.median(g), pair.first) for g, pair in zip(groups, pairs)],
               number=max(pair.number for pair in pairs))
    return row


def paired_ratios(before: list[float], after: list[float]) -> dict:
    """The statistics of interleaved per-call times, one after/before ratio a round: medians,
    the ratio's median, its 10 % and 90 % quantiles (``low``, ``high``) and ``interval``, the
    95 % bootstrap confidence interval of the rounds' median (``bootstrap_interval``).

    >>> r = paired_ratios([1.0, 1.1, 0.9, 1.0], [1.2, 1.3, 1.1, 1.2])
    >>> round(r["ratio"], 3), r["low"] > 1, r["interval"][0] <= r["ratio"] <= r["interval"][1]
    (1.2, True, True)
    """
    ratios = sorted(b / a for a, b in zip(before, after))
    low = ratios[int(0.1 * (len(ratios) - 1))]
    high = ratios[-1 - int(0.1 * (len(ratios) - 1))]
    return {"before": statistics.median(before), "after": statistics.median(after),
            "ratio": statistics.median(ratios), "low": low, "high": high,
            "interval": bootstrap_interval(ratios)}


def bootstrap_interval(ratios, confidence=0.95, resamples=2000, seed=0) -> tuple:
    """The percentile bootstrap interval of the median of ``ratios`` (one per round, so a
    change in load between rounds moves both sides of each): the rounds drawn again with
    replacement ``resamples`` times (seeded: the same samples give the same interval).

    >>> bootstrap_interval([2.0] * 5)
    (2.0, 2.0)
    """
    import numpy as np

    values = np.asarray(ratios, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))
    medians = np.median(values[draws], axis=1)
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))


def clustered_interval(groups, confidence=0.95, resamples=2000, seed=0) -> tuple:
    """The percentile bootstrap interval of the median ratio when ``groups`` (each pair of
    processes' per-round ratios) are drawn again with replacement, then each drawn group's
    rounds (seeded): a bias of one pair widens it, where resampling rounds alone would not see
    it. One group: the rounds alone, as ``bootstrap_interval`` resamples them.

    >>> clustered_interval([[1.0, 1.0], [1.2, 1.2]])
    (1.0, 1.2)
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays = [np.asarray(g, dtype=float) for g in groups]
    medians = np.empty(resamples)
    for i in range(resamples):
        drawn = [arrays[j] for j in rng.integers(0, len(arrays), len(arrays))]
        medians[i] = np.median(np.concatenate([g[rng.integers(0, len(g), len(g))]
                                               for g in drawn]))
    tail = (1 - confidence) / 2 * 100
    return float(np.percentile(medians, tail)), float(np.percentile(medians, 100 - tail))
