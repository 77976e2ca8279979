import xpgrad as xg


def test_worked_example_sum_times():
    x, y, z = (xg.asarray(v) for v in (-2.0, 5.0, -4.0))
    with xg.GradientTape() as tape:
        tape.watch([x, y, z])
        f = (x + y) * z
    dx, dy, dz = tape.gradient(f, [x, y, z])
    assert f.item() == -12.0
    assert (dx.item(), dy.item(), dz.item()) == (-4.0, -4.0, 3.0)
