"""``profile.key_averages()``: the events summed per name (and phase, implementation, and with
``group_by_input_shape`` input shapes), and their table.

The attribute names are PyTorch's (``key``, ``count``, ``self_cpu_time_total``,
``cpu_time_total``, ``cpu_time``: microseconds), so code written against
``torch.profiler``'s rows reads these. With ``profile(synchronize=...)`` the times include the
device's work: "cpu" stays in the names only for PyTorch's sake.

>>> from xpgrad.profiler.recorder import Event
>>> rows = key_averages([Event("exp", "forward", "generic", 0, 3000, 3000, 1, 0),
...                      Event("exp", "forward", "generic", 5000, 1000, 1000, 1, 0)])
>>> row = rows[0]
>>> row.key, row.count, row.cpu_time_total, row.cpu_time
('exp', 2, 4.0, 2.0)
>>> print(rows.table(row_limit=1).splitlines()[1].split())
['Name', 'Phase', 'Impl', 'Self', '%', 'Self', 'total', 'Total', '%', 'Total', 'Avg', 'Calls']
"""
from __future__ import annotations

from dataclasses import dataclass

#: ``table(sort_by=...)``'s keys: what each sorts by, largest first (``key``: by name)
SORT_KEYS = {
    "self_cpu_time_total": lambda r: -r.self_cpu_time_total,
    "cpu_time_total": lambda r: -r.cpu_time_total,
    "self_cpu_time": lambda r: -r.self_cpu_time,
    "cpu_time": lambda r: -r.cpu_time,
    "count": lambda r: -r.count,
    "key": lambda r: r.key,
}


@dataclass
class FunctionEventAvg:
    """The events of one name, phase and implementation (and input shapes, where grouped by
    them): how many, and their summed times in microseconds."""

    key: str
    phase: str
    implementation: str
    count: int = 0
    self_cpu_time_total: float = 0.0
    cpu_time_total: float = 0.0
    input_shapes: str = ""

    @property
    def cpu_time(self) -> float:
        """The average time of one call, children included (microseconds)."""
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self) -> float:
        """The average self time of one call (microseconds)."""
        return self.self_cpu_time_total / self.count if self.count else 0.0


class KeyAverages(list):
    """The rows of ``key_averages``, in the order their keys first ran."""

    group_by_input_shape = False

    def table(self, sort_by="self_cpu_time_total", row_limit=100) -> str:
        """The rows as a text table, sorted by ``sort_by`` (a key of ``SORT_KEYS``, largest
        first; None: as they are) and cut at ``row_limit`` rows (None or <= 0: all).
        Percentages are of the summed self times: the time the profile saw."""
        rows = _sorted(self, sort_by)
        if row_limit is not None:
            if isinstance(row_limit, bool) or not isinstance(row_limit, int):
                raise TypeError(f"row_limit must be an int or None, got {row_limit!r}")
            if row_limit > 0:
                rows = rows[:row_limit]
        total = sum(r.self_cpu_time_total for r in self) or 1.0
        head = ["Name", "Phase", "Impl", "Self %", "Self total", "Total %", "Total", "Avg",
                "Calls"]
        if self.group_by_input_shape:
            head.append("Input shapes")
        body = []
        for r in rows:
            line = [r.key, r.phase, r.implementation,
                    f"{100 * r.self_cpu_time_total / total:.2f}%",
                    format_time(r.self_cpu_time_total),
                    f"{100 * r.cpu_time_total / total:.2f}%", format_time(r.cpu_time_total),
                    format_time(r.cpu_time), str(r.count)]
            if self.group_by_input_shape:
                line.append(r.input_shapes)
            body.append(line)
        widths = [max([len(h)] + [len(line[i]) for line in body]) for i, h in enumerate(head)]
        rule = "  ".join("-" * w for w in widths)

        def fmt(cells):
            return "  ".join(c.ljust(w) if i < 3 or i == 9 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
        lines = [rule, fmt(head), rule, *map(fmt, body), rule,
                 f"Self time total: {format_time(sum(r.self_cpu_time_total for r in self))}"]
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _sorted(rows, sort_by):
    if sort_by is None:
        return list(rows)
    key = SORT_KEYS.get(sort_by) if isinstance(sort_by, str) else None
    if key is None:
        raise ValueError(f"sort_by={sort_by!r} is not a column to sort by; choose one of "
                         f"{', '.join(map(repr, SORT_KEYS))} (or None)")
    return sorted(rows, key=key)


def format_time(us: float) -> str:
    """A duration in microseconds, in the unit that reads best.

    >>> format_time(3.5), format_time(2500.0), format_time(3.2e6)
    ('3.500us', '2.500ms', '3.200s')
    """
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def shapes_text(shapes) -> str:
    """``record_shapes``'s shapes as the table shows them: ``[[2, 3], [], None]``-like."""
    if shapes is None:
        return ""
    return "[" + ", ".join("None" if s is None else str(list(s)) for s in shapes) + "]"


def key_averages(events, group_by_input_shape=False) -> KeyAverages:
    """The events summed per ``(name, phase, implementation)``, and per input shapes where
    ``group_by_input_shape``."""
    if not isinstance(group_by_input_shape, bool):
        raise TypeError(f"group_by_input_shape must be True or False, got "
                        f"{group_by_input_shape!r}")
    rows = {}
    for e in events:
        shapes = shapes_text(e.shapes) if group_by_input_shape else ""
        key = (e.name, e.phase, e.impl, shapes)
        row = rows.get(key)
        if row is None:
            row = rows[key] = FunctionEventAvg(e.name, e.phase, e.impl, input_shapes=shapes)
        row.count += 1
        row.self_cpu_time_total += e.self_ns / 1e3
        row.cpu_time_total += e.dur_ns / 1e3
    out = KeyAverages(rows.values())
    out.group_by_input_shape = group_by_input_shape
    return out


__all__ = ["FunctionEventAvg", "KeyAverages", "SORT_KEYS", "format_time", "key_averages"]
