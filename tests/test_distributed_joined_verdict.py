"""The verdict on a call some ranks make while others have left their ``dist.join()`` block
(``distributed/agreement.py``'s ``joined_verdict``), without MPI: the calling ranks that
disagree are named as ``check_same`` names them (the first differing item, or both calls),
and a call a joined rank cannot take part in names the joined ranks and the call."""
import numpy as np

from xpgrad.distributed.agreement import JOINED, joined_verdict


def _entry(call, *items, shadow=("nothing",)):
    return [call, *items], shadow, "layout", "build the same model", "call the same function"


def test_calling_ranks_holding_different_items_name_the_first_item_that_differs():
    gathered = [_entry("f()", "w: (2,)", "b: (1,)"), None, _entry("f()", "w: (2,)", "b: (3,)")]
    shadow, message = joined_verdict(gathered, np.array([5, JOINED, 6]))
    assert shadow == ("nothing",)
    assert message == ("rank 2 holds a different layout than rank 0 (item 1: rank 0 has "
                       "'b: (1,)', rank 2 has 'b: (3,)'); build the same model")


def test_calling_ranks_in_different_calls_name_both_calls():
    gathered = [None, _entry("f()", "w"), _entry("g()", "w")]
    _, message = joined_verdict(gathered, np.array([JOINED, 5, 6]))
    assert message == ("rank 2 makes another call of xpgrad.distributed than rank 1 (rank 1 "
                       "is in 'f()', rank 2 in 'g()'); call the same function")


def test_a_call_a_joined_rank_cannot_shadow_names_the_joined_ranks_and_the_call():
    gathered = [_entry("allreduce()", "x", shadow=None), None, None]
    shadow, message = joined_verdict(gathered, np.array([5, JOINED, JOINED]))
    assert shadow is None and message.startswith(
        "rank 1, 2 have left their dist.join() block (out of batches) while rank 0 calls "
        "'allreduce()'")
