"""einsum: values against NumPy, gradients against PyTorch (real and complex), and its errors."""
from __future__ import annotations

import numpy as np
import pytest

import xpgrad as xg

torch = pytest.importorskip("torch")

SPECS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk,k->i", [(2, 3), (3, 4), (4,)]),
         ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]), ("ij,ij", [(2, 3), (2, 3)]),
         ("...j,j->...", [(2, 5, 3), (3,)]), ("bij,bjk->bik", [(5, 2, 3), (1, 3, 4)]),
         ("i,j", [(3,), (2,)]), ("ab,cb->ca", [(2, 3), (4, 3)])]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("spec,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_einsum_matches_numpy_and_torch_gradients(spec, shapes, complex_, rng):
    def draw(shape):
        a = rng.normal(size=shape)
        return a + 1j * rng.normal(size=shape) if complex_ else a

    arrays = [draw(s) for s in shapes]
    out_np = np.einsum(spec, *arrays)
    xs = [xg.asarray(a) for a in arrays]
    with xg.GradientTape() as tape:
        tape.watch(xs)
        out = xg.einsum(spec, *xs)
        loss = xg.sum(xg.real(out * xg.conj(out))) if complex_ else xg.sum(out * out)
    grads = tape.gradient(loss, xs)
    np.testing.assert_allclose(out.numpy(), out_np, rtol=1e-12)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = torch.einsum(spec, *ts)
    tloss = (tout * tout.conj()).real.sum() if complex_ else (tout * tout).sum()
    tloss.backward()
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_second_order_and_strict_backend(clean_backends):
    from xpgrad.testing import StrictBackend

    a = xg.asarray(np.arange(6.0).reshape(2, 3) / 5)
    b = xg.asarray(np.arange(12.0).reshape(3, 4) / 7)
    xg.testing.check_grads(lambda a, b: xg.einsum("ij,jk->ik", a, b) ** 2, [a, b], order=2)
    xg.register_backend("strict", StrictBackend)
    sa, sb = a.to("strict"), b.to("strict")
    with xg.GradientTape() as tape:             # no einsum in array-api-strict: the fallback
        tape.watch([sa, sb])
        loss = xg.sum(xg.einsum("ij,jk->ik", sa, sb) ** 2)
    ga, gb = tape.gradient(loss, [sa, sb])
    with xg.GradientTape() as tape:
        tape.watch([a, b])
        loss = xg.sum(xg.einsum("ij,jk->ik", a, b) ** 2)
    ra, rb = tape.gradient(loss, [a, b])
    np.testing.assert_allclose(ga.numpy(), ra.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-12)


def test_einsum_errors():
    x = xg.ones((2, 3))
    with pytest.raises(ValueError, match="label 'j' has sizes 3 and 4"):
        xg.einsum("ij,jk", x, xg.ones((4, 2)))
    with pytest.raises(ValueError, match="names 2 operands but 1 were given"):
        xg.einsum("ij,jk", x)
    with pytest.raises(ValueError, match="does not fit subscripts 'ijk'"):
        xg.einsum("ijk->i", x)
    with pytest.raises(TypeError, match="subscripts must be a string"):
        xg.einsum(3, x)
    d = xg.asarray(np.eye(3))
    assert xg.einsum("ii->i", d).tolist() == [1.0, 1.0, 1.0]        # a diagonal, and its
    with xg.GradientTape() as tape:                                    # gradient (more in
        tape.watch(d)                                                  # test_third_party_array_api)
        y = xg.sum(xg.einsum("ii->i", d))
    assert tape.gradient(y, d).tolist() == np.eye(3).tolist()


@pytest.mark.parametrize("spec, shapes", [
    ("ij,jk,kl->il", [(40, 30), (30, 50), (50, 20)]),
    ("bi,ij,bj->b", [(16, 64), (64, 64), (16, 64)]),
    ("bij,bjk->bik", [(8, 16, 32), (8, 32, 16)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 32, 8), (2, 3, 32, 8)]),
])
def test_large_contractions_take_the_optimized_order_and_equal_torch(spec, shapes,
                                                                     monkeypatch):
    """Above ``OPTIMIZE_ABOVE`` the forward and every gradient einsum go through a found
    contraction order (BLAS products); values and gradients equal torch.einsum's and the
    naive loop's."""
    from xpgrad.ops import contraction

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    assert contraction._naive_size(spec, arrays) > contraction.OPTIMIZE_ABOVE
    seed = rng.standard_normal(np.einsum(spec, *arrays).shape)

    def ours():
        operands = [xg.asarray(a) for a in arrays]
        with xg.GradientTape() as tape:
            for o in operands:
                tape.watch(o)
            out = xg.einsum(spec, *operands)
        return [out.numpy()] + [g.numpy() for g in
                                tape.gradient(out, operands, output_gradients=xg.asarray(seed))]

    optimized = ours()
    monkeypatch.setattr(contraction, "OPTIMIZE_ABOVE", 1 << 62)
    naive = ours()
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch.einsum(spec, *ts)
    out.backward(torch.tensor(seed))
    for got, loop, want in zip(optimized, naive, [out.detach()] + [t.grad for t in ts]):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got, loop, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("spec,shapes,searched", [
    ("i,j->ij", [(200,), (120,)], False), ("ij,ij->ij", [(150, 130), (150, 130)], False),
    ("ij,jk->ik", [(40, 30), (30, 50)], True), ("ij,ij->i", [(150, 130), (150, 130)], True)])
def test_only_a_spec_that_sums_a_label_searches_an_order(spec, shapes, searched, monkeypatch):
    """An outer or elementwise product has no contraction order to find (the search cost
    ~8 us of a 12 us outer product); the values are NumPy's either way."""
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    calls = []
    namespace = xg.get_backend("numpy").xp
    real = namespace.einsum

    def spy(*args, **kwargs):
        calls.append(kwargs.get("optimize", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(namespace, "einsum", spy)
    got = xg.einsum(spec, *[xg.asarray(a) for a in arrays]).numpy()
    assert calls == [searched]
    np.testing.assert_array_equal(got, np.einsum(spec, *arrays, optimize=searched))


def test_a_spec_seen_before_is_looked_up_and_bad_calls_still_fail(monkeypatch):
    """A second call with the same subscripts and shapes takes the spec parsed the first time
    (values equal NumPy's, the parse not run again, a repeated label's diagonal too); other
    shapes are parsed afresh, so a mismatch still raises, and '...' calls that broadcast are
    never stored."""
    from xpgrad.ops import contraction

    rng = np.random.default_rng(9)
    a, b, m = rng.standard_normal(5), rng.standard_normal(7), rng.standard_normal((4, 4))
    contraction._SPECS.clear()
    for _ in range(2):
        np.testing.assert_allclose(xg.einsum("i,j->ij", xg.asarray(a), xg.asarray(b)).numpy(),
                                   np.outer(a, b))
        np.testing.assert_allclose(xg.einsum("ii->", xg.asarray(m)).numpy(), np.trace(m))
        parses = []
        monkeypatch.setattr(contraction, "_explicit",
                            lambda *args, real=contraction._explicit: parses.append(1)
                            or real(*args))
    xg.einsum("i,j->ij", xg.asarray(a), xg.asarray(b))
    assert parses == []
    with pytest.raises(ValueError, match="does not fit subscripts"):
        xg.einsum("i,j->ij", xg.asarray(m), xg.asarray(b))
    x = xg.asarray(rng.standard_normal((2, 1, 3)))
    xg.einsum("...j,...j->...", x, xg.asarray(rng.standard_normal((4, 3))))
    assert not any("..." in key[0] for key in contraction._SPECS)
