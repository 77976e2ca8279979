"""Implicit differentiation: ``custom_root`` (``jax.lax.custom_root``) and ``fixed_point``.

A solution ``x*`` found by iteration (Newton, bisection, a fixed-point loop) depends on the
parameters ``p`` that ``f`` reads only through ``f(x*, p) = 0``; the implicit function theorem
gives its gradient without differentiating the iterations: ``p_bar = -(df/dp)^T lam`` with
``(df/dx)^T lam = x_bar``. The tapes hold one node for the whole solve, whose inputs are the
tensors ``f`` reads that a tape differentiates (its closure, as JAX's ``custom_root`` converts
it): a function's arguments closed over, a model's trainable Variables. The solver's own steps
are not recorded (the initial guess gets no gradient, as in JAX). Second-order gradients
differentiate the backward pass (its linear solve's operations). Inside ``xg.function`` a
``custom_root`` or ``fixed_point`` call is one step of the program, which runs the solve
eagerly on every call, and its gradient another (``jit/solver_steps.py``).

>>> import xpgrad as xg
>>> def sqrt(a):                    # HIPS autograd's fixed_point example: Newton's iteration
...     return xg.fixed_point(lambda x, a: 0.5 * (x + a / x), xg.asarray(1.0, dtype=a.dtype), a)
>>> a = xg.asarray(2.0, dtype=xg.float64)
>>> round(float(sqrt(a)), 12), round(float(xg.grad(sqrt)(a)), 12)   # 1 / (2 sqrt(2))
(1.414213562373, 0.353553390593)
"""
from __future__ import annotations

from .creation import eye, ones_like, zeros
from .inplace import on_tape
from .jit.solver_steps import one_step, tensors_and_refill, tracing_now
from .outer_tapes import block_primitive, value_identity
from .primitive import apply, tape_state
from .pytree import leaves, leaves_like
from .tape import stop_gradient
from .tensor import Tensor, _wrap

_ROOT = block_primitive("custom_root")


def custom_root(f, initial_guess, solve, tangent_solve, has_aux=False):
    """``solve(f, initial_guess)``, a root ``x*`` of ``f`` (a pytree like ``initial_guess``),
    differentiated implicitly (module docstring): ``tangent_solve(g, y)`` solves the linear
    system ``g(x) = y`` for ``x``, where ``g`` is the transposed linearization of ``f`` at the
    root (a scalar problem: ``lambda g, y: y / g(1.0)``; in general a linear solve such as
    ``xg.linalg.solve(xg.jacobian(g)(y), y)``). With ``has_aux``, ``solve`` returns
    ``(x*, aux)``; ``aux`` gets no gradient. JAX's semantics and argument order.

    >>> import xpgrad as xg
    >>> def newton(f, x):
    ...     for _ in range(30):
    ...         x = x - f(x) / xg.grad(f)(x)
    ...     return x
    >>> def cube_root(a):
    ...     return xg.custom_root(lambda x: x ** 3 - a, xg.asarray(1.0, dtype=a.dtype), newton,
    ...                           lambda g, y: y / g(xg.asarray(1.0, dtype=y.dtype)))
    >>> a = xg.asarray(8.0, dtype=xg.float64)
    >>> float(cube_root(a)), round(float(xg.grad(cube_root)(a)), 12)   # 1 / (3 a^(2/3))
    (2.0, 0.083333333333)
    """
    for name, fn in (("f", f), ("solve", solve), ("tangent_solve", tangent_solve)):
        if not callable(fn):
            raise TypeError(f"custom_root: {name} must be callable, got {type(fn).__name__} "
                            f"{fn!r:.60}")
    if tracing_now() is not None:       # one step of the xg.function program
        tensors, refill = tensors_and_refill(initial_guess)
        return one_step("custom_root", lambda *guess: custom_root(
            f, refill(guess), solve, tangent_solve, has_aux), tensors, (f, solve, tangent_solve))
    outer = tape_state.recording
    tape_state.recording = []
    try:
        out = solve(f, initial_guess)
    finally:
        tape_state.recording = outer
    solution, aux = _split_aux(out, has_aux)
    _check_like(initial_guess, solution, "solve's solution")
    if not outer:
        return (solution, aux) if has_aux else solution
    from .pytree_vector import ravel_pytree
    from .recompute import _Reads

    reads = _Reads(outer)
    tape_state.recording = [reads]
    try:
        f(solution)
    finally:
        tape_state.recording = outer
    params = list({value_identity(p): p for p in reads.found.values()}.values())
    if not params:
        return (solution, aux) if has_aux else solution
    flat, unravel = ravel_pytree(solution)
    call = _RootCall(f, tangent_solve, flat, unravel, solution, params)
    node = apply(_ROOT, *params, call=call)
    call.flat = node       # recorded: a tape differentiating the backward pass sees x* move
    solution = unravel(node)
    return (solution, aux) if has_aux else solution


class _RootCall:
    """One ``custom_root`` solve held by its tape node: the implicit-function backward pass."""

    __slots__ = ("f", "tangent_solve", "flat", "unravel", "tree", "params", "value")

    def __init__(self, f, tangent_solve, flat, unravel, tree, params):
        self.f, self.tangent_solve = f, tangent_solve
        self.flat, self.unravel, self.tree, self.params = flat, unravel, tree, params
        self.value = flat._data

    def gradients(self, g, needs):
        """The parameters' gradients (None where not ``needs``): raw arrays, or Tensors when
        ``g`` is one (an outer tape differentiates this pass)."""
        from .pytree_vector import ravel_pytree
        from .tape import GradientTape

        higher = isinstance(g, Tensor)
        g = g if higher else _wrap(g, self.flat._backend)
        wanted = [p for p, need in zip(self.params, needs) if need]
        x = self.flat
        with GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(x)
            for p in wanted:
                tape.watch(p)
            value = self.f(self.unravel(x))
            _check_like(self.tree, value, "f's output")
            residual = ravel_pytree(value)[0]

        def transposed(v):
            v_flat = ravel_pytree(v)[0]
            if tape_state.recording and not higher:
                # tangent_solve differentiates g (xg.jacobian(g)): the tape above kept only what
                # first-order rules read, so record f again under the tapes recording now
                with GradientTape(watch_accessed_variables=False) as again:
                    again.watch(x)
                    again_residual = ravel_pytree(self.f(self.unravel(x)))[0]
                return self.unravel(_or_zeros(
                    again.gradient(again_residual, x, output_gradients=v_flat), x))
            return self.unravel(_or_zeros(tape.gradient(residual, x, output_gradients=v_flat), x))

        lam_flat = self._solve_linear(transposed, g, higher)
        grads = tape.gradient(residual, wanted, output_gradients=-lam_flat) if wanted else []
        by_id = {id(p): gp for p, gp in zip(wanted, grads)}
        out = [by_id.get(id(p)) for p in self.params]
        return [None if gp is None else gp if higher else gp._data for gp in out]


    def _solve_linear(self, transposed, g, higher):
        """``tangent_solve``'s solution for ``g``, flat. Forward mode (``xg.jvp``) differentiates
        this at ``g = 0``, where an iterative ``tangent_solve`` (``fixed_point``'s adjoint)
        stops at once, nothing moving, and cuts that derivative short: the solve is linear in
        ``g``, so there it solves for ``g + 1`` and takes away the solve for ``1``."""
        from .ops import abs as _abs, max as _max
        from .pytree_vector import ravel_pytree

        def solved(b):
            lam = self.tangent_solve(transposed, self.unravel(b))
            _check_like(self.tree, lam, "tangent_solve's solution")
            return ravel_pytree(lam)[0]

        if higher and on_tape(g) and _largest(_max(_abs(g))) == 0:
            probe = ones_like(g)
            return solved(g + probe) - solved(probe)
        return solved(g)


def custom_linear_solve(matvec, b, solve, transpose_solve=None, symmetric=False,
                        has_aux=False):
    """``solve(matvec, b)``, the ``x`` with ``matvec(x) = b``, differentiated implicitly as
    ``jax.lax.custom_linear_solve``: the gradient solves the transposed system with
    ``transpose_solve(vecmat, x_bar)`` (``solve`` itself when ``symmetric``), and reaches
    ``b`` and the tensors ``matvec`` reads (a matrix it closes over) without differentiating
    ``solve``'s iterations. ``b`` is a Tensor or pytree; ``has_aux``: ``solve`` returns
    ``(x, aux)``. Only ``custom_root`` underneath: a nonlinear ``matvec`` gets the gradient
    of its linearization at ``x``.

    >>> import xpgrad as xg
    >>> a = xg.asarray([[4.0, 1.0], [1.0, 3.0]], dtype=xg.float64)
    >>> def jacobi(matvec, b):                       # a solver the tapes need not see
    ...     x = xg.zeros_like(b)
    ...     for _ in range(60):
    ...         x = x + (b - matvec(x)) / xg.linalg.diagonal(a)
    ...     return x
    >>> def loss(a, b):
    ...     x = xg.custom_linear_solve(lambda x: a @ x, b, jacobi, symmetric=True)
    ...     return xg.sum(x)
    >>> b = xg.asarray([1.0, 2.0], dtype=xg.float64)
    >>> db = xg.grad(loss, argnums=1)(a, b)          # A^-T 1
    >>> bool(xg.max(xg.abs(db - xg.linalg.solve(a.mT, xg.ones(2, dtype=a.dtype)))) < 1e-12)
    True
    """
    for name, fn in (("matvec", matvec), ("solve", solve)):
        if not callable(fn):
            raise TypeError(f"custom_linear_solve: {name} must be callable, got "
                            f"{type(fn).__name__} {fn!r:.60}")
    if transpose_solve is None:
        if not symmetric:
            raise TypeError("custom_linear_solve: give transpose_solve, or symmetric=True "
                            "when matvec is symmetric (then solve serves both ways)")
        transpose_solve = solve
    elif not callable(transpose_solve):
        raise TypeError(f"custom_linear_solve: transpose_solve must be callable, got "
                        f"{type(transpose_solve).__name__} {transpose_solve!r:.60}")
    from .pytree import map_leaves

    guess = map_leaves(lambda leaf, path: zeros(getattr(leaf, "shape", ()), dtype=getattr(
        leaf, "dtype", None), backend=getattr(leaf, "_backend", None)), b)
    return custom_root(lambda x: _subtract(matvec(x), b), guess,
                       lambda f, x0: solve(matvec, b), transpose_solve, has_aux=has_aux)


def _subtract(a, b):
    from .pytree import tree_map

    return tree_map(lambda u, v: u - v, a, b)


def fixed_point(f, x0, *params, tol=None, max_iter=1000, adjoint="iterate"):
    """``x* = f(x*, *params)`` by iterating ``x = f(x, *params)`` from ``x0`` (a Tensor or
    pytree) until no entry moves by more than ``tol * max(1, max |x|)`` (default: 100 times
    the dtype's machine epsilon), differentiated implicitly: ``x_bar`` goes to the parameters
    (``params`` and tensors ``f`` reads from its closure) through ``u = x_bar + (df/dx)^T u``,
    solved by the same iteration (``adjoint="iterate"``, as HIPS autograd's fixed_point
    example; it converges where the forward iteration does) or by building ``df/dx`` and one
    linear solve (``adjoint="direct"``: one vector-Jacobian product per entry of ``x``).
    ``max_iter`` iterations without convergence raise RuntimeError, in either direction.

    >>> import xpgrad as xg
    >>> w = xg.asarray([[0.2, -0.3], [0.1, 0.4]], dtype=xg.float64)
    >>> b = xg.asarray([0.5, -1.0], dtype=xg.float64)
    >>> def layer(b):                                  # a DEQ layer: z = tanh(W z + b)
    ...     return xg.fixed_point(lambda z, b: xg.tanh(z @ w + b), xg.zeros(2, dtype=b.dtype), b)
    >>> z = layer(b)
    >>> bool(xg.max(xg.abs(z - xg.tanh(z @ w + b))) < 1e-13)
    True
    >>> xg.grad(lambda b: xg.sum(layer(b)))(b).shape
    (2,)
    """
    if not callable(f):
        raise TypeError(f"fixed_point: f must be callable (f(x, *params) -> x), got "
                        f"{type(f).__name__} {f!r:.60}")
    if adjoint not in ("iterate", "direct"):
        raise ValueError(f"fixed_point: adjoint must be 'iterate' or 'direct', got {adjoint!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"fixed_point: max_iter must be a positive int, got {max_iter!r}")
    if tracing_now() is not None:       # one step of the xg.function program
        tensors, refill = tensors_and_refill((x0, params))

        def whole(*given):
            start, given_params = refill(given)
            return fixed_point(f, start, *given_params, tol=tol, max_iter=max_iter,
                               adjoint=adjoint)

        return one_step("fixed_point", whole, tensors, (f,))
    from .pytree_vector import ravel_pytree

    x0_flat, unravel = ravel_pytree(x0)
    if not x0_flat.dtype.is_floating:
        raise TypeError(f"fixed_point: x0 must be real floating point, got dtype "
                        f"{x0_flat.dtype} (cast it, e.g. x0.astype(xg.float64))")
    if tol is None:
        from .dtype_functions import finfo

        tol = 100 * finfo(x0_flat.dtype).eps
    elif isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise ValueError(f"fixed_point: tol must be a positive number, got {tol!r}")
    x0_flat = stop_gradient(x0_flat)   # the guess gets no gradient

    def step(x):
        out = f(unravel(x), *params)
        _check_like(x0, out, "fixed_point: f's output")
        flat = ravel_pytree(out)[0]
        return flat if flat.dtype == x.dtype else flat.astype(x.dtype)

    def solve(_, x):
        return _iterate(step, x, tol, max_iter, "fixed_point")

    def tangent_solve(transposed, b):       # transposed(v) = (df/dx)^T v - v
        if adjoint == "direct":
            n = b.shape[0]
            columns = [transposed(row) for row in eye(n, dtype=b.dtype, backend=b._backend)]
            from .linalg import solve as linear_solve
            from .ops import stack

            return linear_solve(stack(columns, axis=1), b)
        u = _iterate(lambda u: b + transposed(u) + u, b, tol, max_iter, "fixed_point's adjoint")
        return -u

    return unravel(custom_root(lambda x: step(x) - x, x0_flat, solve, tangent_solve))


def _iterate(step, x, tol, max_iter, who):
    """``x = step(x)`` until no entry moves by more than ``tol * max(1, max |x|)``."""
    from .jit.errors import TraceError, user_line
    from .jit.trace_state import _tracing
    from .ops import abs as _abs, max as _max

    if _tracing():
        raise TraceError(
            f"{who} inside xg.vmap inside an xg.function stops when its iterate stops "
            "moving, a test on values that the replay cannot repeat (under xg.function "
            "alone it runs as one step of the program): call xg.vmap outside the traced "
            "function, trace it with on_trace_error='eager', or write the solve as "
            "xg.custom_root with a fixed number of steps (a Python loop, which the trace "
            "unrolls)", user_line())

    for _ in range(max_iter):
        new = step(x)
        change, size = _largest(_max(_abs(new - x))), _largest(_max(_abs(new)))
        x = new
        if change <= tol * max(1.0, size):
            return x
        if change != change:
            raise FloatingPointError(f"{who}: the iteration reached NaN")
    raise RuntimeError(f"{who}: no convergence in max_iter={max_iter} iterations (the last "
                       f"step moved an entry by {change:.3g}, tol={tol:.3g}); the map may not "
                       "be a contraction there: raise max_iter or start closer")


def _largest(t):
    """A scalar tensor's value; inside ``xg.vmap``, the largest over the examples (every
    example iterates until the slowest converges, as JAX's batched ``while_loop`` runs)."""
    from .batching.batched import BatchedArray
    from .batching.session import raw

    data = t._data
    if isinstance(data, BatchedArray):
        return float(raw(data).max())
    return float(t)


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"custom_root: with has_aux=True, solve must return (solution, aux), "
                        f"got {type(out).__name__}")
    return out[0], out[1]


def _check_like(tree, other, what):
    """ValueError naming ``what`` where ``other`` has another structure or shapes than
    ``tree`` (the initial guess)."""
    name = what if what.startswith("fixed_point") else f"custom_root: {what}"
    for (path, leaf), expected in zip(leaves_like(tree, other, name, "the initial guess"),
                                      leaves(tree)):
        shape = getattr(leaf, "shape", None)
        if shape is not None and shape != getattr(expected, "shape", shape):
            raise ValueError(f"{name}{path} has shape {shape} where the initial guess has "
                             f"{expected.shape}")


def _or_zeros(grad, like):
    return grad if grad is not None else zeros(like.shape, dtype=like.dtype,
                                               backend=like._backend)

