"""The catalogue of bad inputs (``tests/bad_inputs_table.py``): every row raises its exception
type with a message naming the argument (or flag) and, mostly, the value. Rows whose fix is in a
file owned elsewhere are strict xfails: they fail the suite once fixed, to be unmarked."""
import warnings

import pytest

import bad_inputs_table as table  # tests/ is on sys.path (pytest puts conftest.py's folder)

ROWS = table.rows()


def _param(row):
    marks = []
    if row.deferred:
        marks.append(pytest.mark.xfail(strict=True, reason=f"deferred: {row.deferred}"))
    return pytest.param(row, id=f"{row.area}/{row.id}", marks=marks)


def test_the_catalogue_is_large_and_covers_every_area():
    areas = {r.area for r in ROWS}
    assert len(ROWS) >= 150
    assert areas >= {"tensor", "tape", "losses", "layers", "optim", "checkpoint", "backends",
                     "cli", "data"}
    ids = [f"{r.area}/{r.id}" for r in ROWS]
    assert len(ids) == len(set(ids)), "row ids must be unique"


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_bad_input_raises_a_clear_error(row):
    needs_numba = "numba" in row.id or row.id in ("mixed", "sce-mixed-backends")
    if needs_numba:
        pytest.importorskip("numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # an overflow warning is the expected signal
        with pytest.raises(row.exc) as info:
            row.call()
    message = str(info.value)
    missing = [n for n in row.names if n not in message]
    assert not missing, f"message does not name {missing}: {message!r}"
