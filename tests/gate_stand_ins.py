"""A stand-in for the regression gate's worker process (``asv_gate.Worker``), for tests of the
schedule of tools/paired_timing.py without timing anything."""


class StandInWorker:
    """Logs its start, each request (kind, side, key) and its close, and answers at once: a
    sample is 1 s a call on the ``before`` side and ``bias.get(pair, scale)`` times that on the
    ``after`` side (``pair`` counted from the starts), times ``1 + jitter * (-1, 0 or 1)``
    from sample to sample; the workloads whose key is in ``unavailable`` it cannot build."""
    log, bias, scale, jitter, unavailable = [], {}, 1.0, 0.0, ()

    def __init__(self, site, name):
        self.site, self.name, self.samples = site, name, 0
        self.pair = sum(entry[0] == "start" for entry in self.log) // 2
        self.log.append(("start", name))

    def ask(self, **request):
        kind = next(iter(request))
        self.log.append((kind, self.name, request[kind]))
        if kind == "build" and request[kind] in self.unavailable:
            return {"unavailable": "not on this stand-in"}
        if kind == "build":
            return {"ok": True, "xpgrad": f"{self.site}/xpgrad/__init__.py"}
        if kind == "calibrate":
            return {"number": 2}
        self.samples += 1
        scale = self.bias.get(self.pair, self.scale) if self.name == "after" else 1.0
        wobble = 1 + self.jitter * ((7 * self.samples) % 3 - 1)
        return {clock: 2.0 * scale * wobble for clock in ("cpu", "wall", "thread")}

    def close(self):
        self.log.append(("close", self.name))


def stand_in_workers(monkeypatch, asv_gate):
    """``StandInWorker`` (its log emptied) in place of ``asv_gate.Worker``, and exports that
    copy nothing."""
    monkeypatch.setattr(asv_gate, "Worker", StandInWorker)
    monkeypatch.setattr(asv_gate, "export", lambda rev, dest: dest)
    for name, value in (("log", []), ("bias", {}), ("scale", 1.0), ("jitter", 0.0),
                        ("unavailable", ())):
        monkeypatch.setattr(StandInWorker, name, value)
    return StandInWorker
