"""Kernels made from templates: every threaded block wrapper (one per loop, or one per family of
loops taking the same arguments: ``parallel_family``), and the elementwise losses' loop.

Many kernels differ only in the loop they call. Every threaded kernel splits its arrays into
fixed blocks and runs a one-thread loop on each block, on all threads (``prange``); the three
elementwise losses run one loop around different per-element functions, and so do the
activations' forward and backward loops (``pointwise``). Each such shape is written once, below,
as the text of a function; ``parallel_blocks``, ``elementwise_loss`` and ``pointwise`` make one
Numba kernel of it per function it calls.

Each kernel made here gets its own cache files and a key that a new process finds again. Numba
(``numba/core/caching.py``, 0.68) names a function's cache files after the basename of its source
file, its ``__qualname__`` and its first line (``_templates.relu_fwd_par-52.py311.nbi``, the index,
and ``....1.nbc``), trusts an index while the source file's content hash is the one stored in it,
and keys each entry by signature, CPU, and hashes of the bytecode and of the pickled closure
cells. Closures made by one factory share file, qualname and line, hence one index that they
overwrite in turn; a closure cell holding a dispatcher pickles a per-process id, so that key is
never found again. So a kernel here

* is compiled from its template's text by ``compile(text, <this file>, "exec")``, with the
  template's own line numbers in this file (Numba's errors point at the template), and named for
  the loop it calls (``relu_fwd_par``): its own index; editing this file invalidates them all;
* finds the loop it calls as a global of its namespace, never in a closure cell;
* closes over one string only, ``_sources``: a hash of the source files of the loops it calls.
  Numba compiles a called loop into the caller and checks only the caller's file, so without it
  an edited loop (in ``_act_kernels.py``, say) would leave its threaded kernel stale.

>>> import numpy as np
>>> from xpgrad.backends.numba import _act_kernels as act
>>> x = np.linspace(-2.0, 2.0, 7)
>>> one_thread, blocks = np.empty_like(x), np.empty_like(x)
>>> act.relu_fwd(x, one_thread); act.relu_fwd_par(x, blocks, 3)      # blocks of 3 entries
>>> bool((one_thread == blocks).all()), BLOCKED["relu_fwd_par"].arrays
(True, 2)
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import textwrap
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._math import LOOP_OPTIONS

# -- the templates: ``{name}`` and the argument lists are filled in, each within its line -------
#: the threaded version of ``serial(arrays..., scalars...)``: every ``block`` entries (rows) of
#: each of the arrays go to one thread as one call
BLOCKS = '''\
def {name}({params}, block):
    _sources
    for b in prange(({first}.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, {first}.shape[0])
        serial({call})
'''

#: the same for a ``serial`` that returns a number: returns the sum of the blocks' results, added
#: in float64 in block order, so it does not depend on the number of threads
BLOCK_SUMS = '''\
def {name}({params}, block):
    _sources
    nb = ({first}.shape[0] + block - 1) // block
    parts = np.empty(nb)
    for b in prange(nb):
        lo = b * block
        hi = min(lo + block, {first}.shape[0])
        parts[b] = serial({call})
    total = 0.0
    for b in range(nb):      # a range loop, not parts.sum(): that a parfor would split by thread
        total += parts[b]
    return total
'''

#: one thread of an elementwise loss: ``loss, grad[i] = pointwise(x[i], t[i], c, one)`` for each
#: entry. With a non-empty ``out`` each loss goes there (returns 0); else the losses are summed in
#: x's dtype over ``chunk`` entries and the chunk sums in float64: about 1e-10 relative error,
#: where a float64 accumulator would halve the vector width (measured 1.8x slower).
ELEMENTWISE_LOSS = '''\
def {name}(x, t, grad, out, c):
    _sources
    one = x.dtype.type(1)
    if out.shape[0]:
        for i in range(grad.shape[0]):
            out[i], grad[i] = pointwise(x[i], t[i], c, one)
        return 0.0
    total = 0.0
    for b in range(0, grad.shape[0], chunk):
        xs, ts, gs = x[b:b + chunk], t[b:b + chunk], grad[b:b + chunk]
        acc = x.dtype.type(0)
        for i in range(gs.shape[0]):
            loss, gs[i] = pointwise(xs[i], ts[i], c, one)
            acc += loss
        total += acc
    return total
'''

#: ``ELEMENTWISE_LOSS`` without the gradient (a call no tape records): the same losses, summed
#: the same way; LLVM drops the gradient's arithmetic from the inlined ``pointwise``
ELEMENTWISE_LOSS_ONLY = '''\
def {name}(x, t, out, c):
    _sources
    one = x.dtype.type(1)
    if out.shape[0]:
        for i in range(x.shape[0]):
            out[i] = pointwise(x[i], t[i], c, one)[0]
        return 0.0
    total = 0.0
    for b in range(0, x.shape[0], chunk):
        xs, ts = x[b:b + chunk], t[b:b + chunk]
        acc = x.dtype.type(0)
        for i in range(xs.shape[0]):
            acc += pointwise(xs[i], ts[i], c, one)[0]
        total += acc
    return total
'''

#: the one-thread loops of an elementwise activation, from its scalar functions
#: ``value(x, dt, constants)`` and ``grad(g, x, dt, constants)`` (``dt`` the scalar type,
#: ``constants`` a tuple of the activation's constants in it): the forward, the backward and
#: the backward writing into ``g`` (its own loop: see ``_act_kernels``)
POINTWISE_FWD = '''\
def {name}(x, out, constants):
    _sources
    dt = x.dtype.type
    for i in range(out.shape[0]):
        out[i] = value(x[i], dt, constants)
'''

POINTWISE_BWD = '''\
def {name}(g, x, out, constants):
    _sources
    dt = x.dtype.type
    for i in range(out.shape[0]):
        out[i] = grad(g[i], x[i], dt, constants)
'''

POINTWISE_BWD_IN_PLACE = '''\
def {name}(g, x, constants):
    _sources
    dt = x.dtype.type
    for i in range(g.shape[0]):
        g[i] = grad(g[i], x[i], dt, constants)
'''

#: one threaded kernel for a family of loops that take the same arguments: ``BLOCKS`` with the
#: loop picked by ``which`` in each block (``{branches}``: ``if which == 0: serial0(...)`` and so
#: on, last, so the lines above keep their numbers). Numba compiles a threaded kernel in two
#: pipelines (the kernel and its ``prange`` body), ~0.5 CPU-s however short the loop; a family
#: pays that once for all its loops
FAMILY_BLOCKS = '''\
def {name}({params}, which, block):
    _sources
    for b in prange(({first}.shape[0] + block - 1) // block):
        lo = b * block
        hi = min(lo + block, {first}.shape[0])
{branches}
'''


class Blocked(NamedTuple):
    """A threaded kernel made by ``parallel_blocks``: the loop it runs, on which arguments."""

    kernel: object          # the Numba dispatcher
    serial: object          # the one-thread loop it runs on each block
    arrays: int             # how many leading arguments are cut into blocks
    sums: bool              # whether it returns the sum of the loop's results


#: every kernel ``parallel_blocks`` made, by name (the tests compare each with its loop)
BLOCKED: dict[str, Blocked] = {}


def parallel_blocks(serial, *, arrays, sums=False, name=None, **options):
    """The threaded version of the Numba loop ``serial``, made from ``BLOCKS`` (``BLOCK_SUMS``
    with ``sums``).

    ``kernel(*args, block)`` cuts the first ``arrays`` arguments (1-D arrays, or rows of 2-D
    ones) into blocks of ``block`` entries and calls ``serial`` on each block with the other
    arguments unchanged, on all threads; with ``sums`` it returns the sum of those calls'
    results. It is named ``name``, by default serial's name without ``_block``, plus ``_par``.
    ``options`` override the Numba options (``LOOP_OPTIONS`` and ``parallel=True``).

    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def scale(x, out, k):
    ...     for i in range(x.shape[0]):
    ...         out[i] = k * x[i]
    >>> scale_par = parallel_blocks(scale, arrays=2, cache=False)
    >>> x, out = np.arange(5.0), np.empty(5)
    >>> scale_par(x, out, 3.0, 2)                     # blocks of 2 entries
    >>> out.tolist(), scale_par.__name__
    ([0.0, 3.0, 6.0, 9.0, 12.0], 'scale_par')
    """
    params = list(inspect.signature(serial.py_func).parameters)
    if not 1 <= arrays <= len(params):
        raise ValueError(f"arrays must be 1 to {len(params)} for {serial.py_func.__name__}"
                         f"{tuple(params)}, got {arrays}")
    name = name or serial.py_func.__name__.removesuffix("_block") + "_par"
    call = [f"{p}[lo:hi]" for p in params[:arrays]] + params[arrays:]
    kernel = _make(BLOCK_SUMS if sums else BLOCKS, name, [serial], {"serial": serial},
                   {"parallel": True, **options}, params=", ".join(params), first=params[0],
                   call=", ".join(call))
    BLOCKED[name] = Blocked(kernel, serial, arrays, sums)
    return kernel


def elementwise_loss(pointwise, *, name, chunk, **options):
    """The one-thread loop of an elementwise loss, made from ``ELEMENTWISE_LOSS``:
    ``kernel(x, t, grad, out, c)`` with ``pointwise(x[i], t[i], c, one) -> (loss, gradient)``.

    Fills ``grad``, and ``out`` with the losses if it is not empty (returning 0), else returns
    their sum. ``options`` override the Numba options (``LOOP_OPTIONS``).

    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def abs_error(xi, ti, c, one):
    ...     return abs(xi - ti), c * (one if xi > ti else -one)
    >>> loss = elementwise_loss(abs_error, name="abs_error_block", chunk=4, cache=False)
    >>> x, t, grad = np.arange(6.0), np.full(6, 2.0), np.empty(6)
    >>> loss(x, t, grad, np.empty(0), 1.0), grad.tolist()
    (9.0, [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])
    """
    return _make(ELEMENTWISE_LOSS, name, [pointwise], {"pointwise": pointwise, "chunk": chunk},
                 options)


def elementwise_loss_only(pointwise, *, name, chunk, **options):
    """``elementwise_loss`` without the gradient, from ``ELEMENTWISE_LOSS_ONLY``:
    ``kernel(x, t, out, c)``, the losses into a non-empty ``out`` (returning 0), else summed.

    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def abs_error(xi, ti, c, one):
    ...     return abs(xi - ti), c * (one if xi > ti else -one)
    >>> loss = elementwise_loss_only(abs_error, name="abs_error_loss_block", chunk=4, cache=False)
    >>> loss(np.arange(6.0), np.full(6, 2.0), np.empty(0), 1.0)
    9.0
    """
    return _make(ELEMENTWISE_LOSS_ONLY, name, [pointwise],
                 {"pointwise": pointwise, "chunk": chunk}, options)


def pointwise(value, grad, *, name, threaded=True, **options) -> dict:
    """The loops of the elementwise activation ``name``, made from ``POINTWISE_FWD``,
    ``POINTWISE_BWD`` and ``POINTWISE_BWD_IN_PLACE`` around its scalar functions ``value(x, dt,
    constants)`` and ``grad(g, x, dt, constants)``: ``{name}_fwd(x, out, constants)``,
    ``{name}_bwd(g, x, out, constants)``, ``{name}_bwd_in_place(g, x, constants)`` and their
    threaded versions (``*_par``, one more argument: the block), by name. ``options`` override
    the Numba options (``LOOP_OPTIONS``). With ``threaded=False`` the loops alone (their threaded
    versions made as a family: ``parallel_family``).

    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def cube(x, dt, c):
    ...     return c[0] * x * x * x
    >>> @njit
    ... def cube_grad(g, x, dt, c):
    ...     return g * (dt(3) * c[0]) * x * x
    >>> loops = pointwise(cube, cube_grad, name="doc_cube", cache=False)
    >>> x, out = np.arange(4.0), np.empty(4)
    >>> loops["doc_cube_fwd_par"](x, out, (2.0,), 3); out.tolist()
    [0.0, 2.0, 16.0, 54.0]
    >>> g = np.ones(4); loops["doc_cube_bwd_in_place"](g, x, (2.0,)); g.tolist()
    [0.0, 6.0, 24.0, 54.0]
    """
    made = {}
    for suffix, template, function, arrays in (
            ("fwd", POINTWISE_FWD, {"value": value}, 2),
            ("bwd", POINTWISE_BWD, {"grad": grad}, 3),
            ("bwd_in_place", POINTWISE_BWD_IN_PLACE, {"grad": grad}, 2)):
        loop_name = f"{name}_{suffix}"
        loop = _make(template, loop_name, list(function.values()), function, options)
        made[loop_name] = loop
        if threaded:
            made[f"{loop_name}_par"] = parallel_blocks(loop, arrays=arrays, **options)
    return made


class FamilyMember:
    """The threaded version of one loop of a family (``parallel_family``): ``member(*args,
    block)`` calls the family's kernel as ``kernel(*args, which, block)``."""

    def __init__(self, kernel, which, name):
        self.kernel, self.which, self.__name__ = kernel, which, name

    def __call__(self, *args):
        *loop_args, block = args
        return self.kernel(*loop_args, self.which, block)

    def __repr__(self):
        family = getattr(self.kernel, "py_func", self.kernel).__name__
        return f"<threaded {self.__name__}: loop {self.which} of {family}>"


def parallel_family(serials, *, arrays, name, **options) -> dict:
    """The threaded versions of the Numba loops ``serials`` (all taking the same argument
    types), as one Numba kernel ``name`` made from ``FAMILY_BLOCKS``: ``{name: kernel, loop
    name + "_par": member}``, each member called as ``parallel_blocks``' kernels are (``member(*args,
    block)``: blocks of the first ``arrays`` arguments, on all threads). One kernel compiles
    once for all the loops (~0.5 CPU-s less per loop than ``parallel_blocks``); picking the
    loop costs one branch per block.

    >>> import numpy as np
    >>> from numba import njit
    >>> @njit
    ... def double(x, out):
    ...     for i in range(x.shape[0]):
    ...         out[i] = 2 * x[i]
    >>> @njit
    ... def square(x, out):
    ...     for i in range(x.shape[0]):
    ...         out[i] = x[i] * x[i]
    >>> made = parallel_family([double, square], arrays=2, name="doc_family_par", cache=False)
    >>> x, out = np.arange(5.0), np.empty(5)
    >>> made["square_par"](x, out, 2); out.tolist()                 # blocks of 2 entries
    [0.0, 1.0, 4.0, 9.0, 16.0]
    """
    counts = {len(inspect.signature(fn.py_func).parameters) for fn in serials}
    if len(counts) != 1:
        raise ValueError(f"the loops of family {name!r} must take as many arguments, got "
                         f"{sorted(counts)}")
    count = counts.pop()
    if not 1 <= arrays <= count:
        raise ValueError(f"arrays must be 1 to {count} for family {name!r}, got {arrays}")
    params = [f"a{i}" for i in range(count)]
    call = ", ".join([f"{p}[lo:hi]" for p in params[:arrays]] + params[arrays:])
    branches = "\n".join(f"        {'if' if i == 0 else 'elif'} which == {i}:\n"
                         f"            serial{i}({call})" for i in range(len(serials)))
    kernel = _make(FAMILY_BLOCKS, name, list(serials),
                   {f"serial{i}": fn for i, fn in enumerate(serials)},
                   {"parallel": True, **options}, params=", ".join(params), first=params[0],
                   branches=branches)
    made = {name: kernel}
    for which, serial in enumerate(serials):
        member = serial.py_func.__name__.removesuffix("_block") + "_par"
        made[member] = FamilyMember(kernel, which, member)
        BLOCKED[member] = Blocked(made[member], serial, arrays, False)
    return made


# -- making a kernel -----------------------------------------------------------------------------
#: the name of every kernel made here -> what it calls (a name is its cache files' name)
_MADE: dict[str, tuple] = {}


def _make(template, name, calls, namespace, options, **fields):
    """Compile ``template`` filled with ``name`` and ``fields`` as this file's code (at the
    template's lines), with ``namespace`` as its globals, into a Numba kernel calling ``calls``."""
    if not name.isidentifier():
        raise ValueError(f"a kernel name must be an identifier, got {name!r}")
    calling = tuple((fn.__code__.co_filename, fn.__qualname__)
                    for fn in (getattr(fn, "py_func", fn) for fn in calls))
    if _MADE.setdefault(name, calling) != calling:     # the same name means the same cache files
        raise ValueError(f"kernel name {name!r} is taken (by a kernel calling {_MADE[name]})")
    text = template.format(name=name, **fields)
    # ``_bind`` stands one line above the template, so every line keeps its number in this file
    source = ("\n" * max(_first_line(template) - 2, 0) + "def _bind(_sources):\n"
              + textwrap.indent(text, "    ") + f"    return {name}\n")
    scope = {"__name__": __name__, "np": np, "prange": prange, **namespace}
    exec(compile(source, __file__, "exec"), scope)      # noqa: S102 (our own template text)
    files = _source_files(calls)
    function = scope["_bind"](_digest(files))
    function.__qualname__ = name                        # not "_bind.<locals>.name"
    function.xpgrad_sources = files                     # for the kernels that call this one
    return njit(**{**LOOP_OPTIONS, **options})(function)


@functools.lru_cache(maxsize=None)
def _this_file() -> str:
    try:
        with open(__file__, encoding="utf-8") as f:
            return f.read()
    except OSError:             # installed without its source: Numba cannot cache it either
        return ""


def _first_line(template) -> int:
    """The line of this file where ``template``'s text begins (1 when it cannot be found)."""
    text = _this_file()
    at = text.find(template)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _source_files(calls) -> tuple:
    """The source files whose code ``calls`` compile into a caller, this file aside."""
    files = set()
    for fn in calls:
        fn = getattr(fn, "py_func", fn)
        files.add(fn.__code__.co_filename)
        files.update(getattr(fn, "xpgrad_sources", ()))
    files.discard(__file__)
    return tuple(sorted(files))


def _digest(files) -> str:
    """A hash of the files' contents (a name stands for a file that cannot be read)."""
    total = hashlib.sha256()
    for path in files:
        try:
            with open(path, "rb") as f:
                total.update(hashlib.sha256(f.read()).digest())
        except OSError:
            total.update(path.encode())
    return total.hexdigest()[:32]
