"""SciPy's array-API code beyond ``stats``/``special``/``fft`` on xpgrad Tensors under a tape:
``spatial.transform`` (``Rotation``, ``RigidTransform``), ``linalg``'s array-API functions,
``signal.windows`` and more of ``signal``, ``fft.fht``, and statistics the other files leave
out. Each value against SciPy on NumPy arrays, each gradient against central finite
differences (``test_third_party.py``'s ``check``), on the numpy and numba backends.
"""
import numpy as np
import pytest

import xpgrad as xg
from test_third_party import _data, _scipy, backend, check  # noqa: F401 (fixture)
from test_third_party_scipy import _on, _positive


def _modules():
    _scipy()
    import scipy.fft
    import scipy.linalg
    import scipy.signal
    import scipy.spatial.transform

    return scipy


def _quarter_turns(x):
    return 0.3 * x          # rotation vectors well inside a half turn: as_rotvec is smooth


def _constant(x, values):
    """``values`` as an array of ``x``'s kind (a float64 Tensor of its backend, or NumPy)."""
    if isinstance(x, xg.Tensor):
        return xg.asarray(np.asarray(values, dtype=np.float64), backend=x.backend.name)
    return np.asarray(values, dtype=np.float64)


def _rotation(sp, x):
    return sp.spatial.transform.Rotation.from_rotvec(_quarter_turns(x[:, :3]))


CASES = {
    "Rotation.from_quat as_matrix": lambda sp, x: sp.spatial.transform.Rotation.from_quat(
        x[:, :4]).as_matrix(),
    "Rotation.from_rotvec as_quat": lambda sp, x: _rotation(sp, x).as_quat(),
    "Rotation.from_euler apply": lambda sp, x: sp.spatial.transform.Rotation.from_euler(
        "xyz", x[:, :3]).apply(x[:, 3:6]),
    "Rotation compose inv": lambda sp, x: (
        _rotation(sp, x) * sp.spatial.transform.Rotation.from_rotvec(
            _quarter_turns(x[:, 3:6])).inv()).as_rotvec(),
    "Rotation as_euler": lambda sp, x: _rotation(sp, x).as_euler("zyx"),
    "Rotation as_mrp": lambda sp, x: _rotation(sp, x).as_mrp(),
    "Rotation as_davenport": lambda sp, x: _rotation(sp, x).as_davenport(
        _constant(x, np.eye(3)), "extrinsic"),
    "Rotation magnitude": lambda sp, x: _rotation(sp, x).magnitude(),
    "Rotation mean": lambda sp, x: _rotation(sp, x).mean().as_rotvec(),
    "RigidTransform apply": lambda sp, x: sp.spatial.transform.RigidTransform.from_components(
        x[:, :3], _rotation(sp, x[:, 3:])).apply(x[:, 4:7]),
    "RigidTransform inv compose": lambda sp, x: (
        sp.spatial.transform.RigidTransform.from_components(x[:, :3], _rotation(sp, x[:, 3:])).inv()
        * sp.spatial.transform.RigidTransform.from_translation(x[:, 4:7])).as_matrix(),
    # not orthogonal: SciPy takes the SVD's polar factor (its singular values distinct here;
    # a rotation plus a multiple of another has a repeated pair, where the SVD's gradient is
    # NaN or inf, in PyTorch too)
    "Rotation.from_matrix": lambda sp, x: sp.spatial.transform.Rotation.from_matrix(
        _rotation(sp, x).as_matrix() + 0.05 * x[:, :3, None] * x[:, None, 3:6]).as_rotvec(),
    "Rotation.align_vectors": lambda sp, x: sp.spatial.transform.Rotation.align_vectors(
        x[:, :3], x[:, 3:6])[0].as_rotvec(),
    "Slerp": lambda sp, x: sp.spatial.transform.Slerp([0.0, 1.0], _rotation(sp, x[:2]))(
        _constant(x, [0.3, 0.6])).as_rotvec(),
    "linalg.block_diag": lambda sp, x: sp.linalg.block_diag(x[:2, :3], x[2:, 4:]),
    "linalg.fiedler": lambda sp, x: sp.linalg.fiedler(x[0]),
    "linalg.orthogonal_procrustes": lambda sp, x: sp.linalg.orthogonal_procrustes(
        x[:, :3], x[:, 4:])[0],
    "signal.windows.general_cosine": lambda sp, x: sp.signal.windows.general_cosine(
        7, x[0, :3]),
    "signal.envelope": lambda sp, x: sp.signal.envelope(x[0]),
    "signal.hilbert2": lambda sp, x: abs(sp.signal.hilbert2(x)),
    "signal.freqz": lambda sp, x: abs(sp.signal.freqz(x[0], worN=8)[1]),
    "signal.gausspulse": lambda sp, x: sp.signal.gausspulse(x),
    "signal.correlate fft": lambda sp, x: sp.signal.correlate(x, x[:2, :2], method="fft"),
    "fft.fht": lambda sp, x: sp.fft.fht(_positive(x[0]), dln=0.1, mu=0.5),
    "fft.ifht": lambda sp, x: sp.fft.ifht(_positive(x[0]), dln=0.1, mu=0.5),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_scipy_wider(name, backend):
    sp = _modules()
    check(_on(backend, lambda x: CASES[name](sp, x)), _data(71, (3, 7)), backend, rtol=1e-9,
          atol=1e-11)


STATS = {
    "sigmaclip": lambda st, x: st.sigmaclip(x[0]).clipped,
    "pointbiserialr": lambda st, x: st.pointbiserialr(
        _constant(x, [0, 1, 0, 1, 1, 0, 1]), x[0]).statistic,
    "ttest_ind_from_stats": lambda st, x: st.ttest_ind_from_stats(
        x[0, 0], _positive(x[0, 1]), 10, x[0, 2], _positive(x[0, 3]), 12).pvalue,
    "alexandergovern": lambda st, x: st.alexandergovern(x[0], x[1], x[2]).statistic,
    "yeojohnson_llf": lambda st, x: st.yeojohnson_llf(0.5, x[0]),
    "false_discovery_control": lambda st, x: st.false_discovery_control(
        1 / (1 + _positive(x[0]))),
    "circmean": lambda st, x: st.circmean(x, axis=1),
    "quantile harrell-davis": lambda st, x: st.quantile(x, 0.3, axis=1,
                                                        method="harrell-davis"),
}


@pytest.mark.parametrize("name", sorted(STATS))
def test_scipy_more_statistics(name, backend):
    _, st = _scipy()
    check(_on(backend, lambda x: STATS[name](st, x)), _data(73, (3, 7)), backend, rtol=1e-9,
          atol=1e-11)
