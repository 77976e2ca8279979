"""The measure of the reference-cycle tests: how many objects only Python's cyclic collector
frees after calls run with it off (a cycle made per call shows up as a count above zero)."""
import gc


def cyclic_garbage(fn, repeat=5, warmups=1):
    """Objects the cyclic GC frees after ``repeat`` calls of ``fn``, made after ``warmups``
    calls (first-call caches are not garbage) and a collection."""
    for _ in range(warmups):
        fn()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            fn()
        return gc.collect()
    finally:
        gc.enable()
