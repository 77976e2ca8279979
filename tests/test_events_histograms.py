"""EventWriter.add_histogram: a weight's histogram as tensorboardX's ``add_histogram`` writes it,
read back with tensorboardX's protobuf classes and compared with its own ``make_histogram``."""
import numpy as np
import pytest

import xpgrad as xg
from test_events import _events
from xpgrad.events import EventWriter

pytestmark = pytest.mark.usefixtures("numpy_default")


def _read_back(logdir):
    """(step, Summary.Value) of each value in the one event file, every CRC checked."""
    (path,) = [p for p in logdir.iterdir() if p.is_file()]
    return [(e.step, v) for e in _events(path) for v in e.summary.value]


@pytest.mark.parametrize("bins", ["tensorflow", 7, "auto"])
def test_histogram_equals_tensorboardx_s(tmp_path, bins):
    summary = pytest.importorskip("tensorboardX.summary")
    weights = np.random.default_rng(0).normal(size=(64, 32)).astype(np.float32)
    with EventWriter(tmp_path) as w:
        w.add_histogram("dense/w", xg.asarray(weights), step=5, bins=bins)
    ((step, value),) = _read_back(tmp_path)
    if bins == "tensorflow":                                 # SummaryWriter's default_bins
        writer = pytest.importorskip("tensorboardX").SummaryWriter(str(tmp_path / "tbx"))
        tbx_bins = writer.default_bins
        writer.close()
    else:
        tbx_bins = bins
    expected = summary.histogram("dense/w", weights, tbx_bins).value[0].histo
    assert (step, value.tag) == (5, "dense/w")
    histo = value.histo
    assert (histo.min, histo.max, histo.num) == (expected.min, expected.max, expected.num)
    assert histo.sum == pytest.approx(expected.sum, rel=1e-12)
    assert histo.sum_squares == pytest.approx(expected.sum_squares, rel=1e-12)
    np.testing.assert_array_equal(histo.bucket_limit, expected.bucket_limit)
    np.testing.assert_array_equal(histo.bucket, expected.bucket)
    assert sum(histo.bucket) == weights.size


def test_histogram_refuses_empty_and_non_finite_values_naming_them(tmp_path):
    with EventWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="add_histogram: values .*no element"):
            w.add_histogram("w", np.zeros(0), step=0)
        with pytest.raises(ValueError, match="add_histogram: values .*not finite"):
            w.add_histogram("w", np.array([1.0, np.nan]), step=0)
