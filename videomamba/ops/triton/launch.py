"""Kernel launches that skip the JIT's per-call argument binding once a specialisation is compiled.

``fn[grid](*args, **kw)`` on a ``triton.jit`` function binds every argument, specialises each one (dtype and
16-byte alignment of tensors, ints equal to 1 or divisible by 16), formats the options into its cache key and
checks the kernel's globals: ≈ 50–100 µs of Python per launch on the benchmark host, against ≈ 5–10 µs of GPU
time per launch at 8 frames (docs/perf_notes.md v10, "the short rows measure the host"). :class:`Launcher`
does that once per *key* and then calls the compiled kernel's launcher directly.

The key holds, per positional argument, what the JIT's specialisation can depend on: for a tensor its dtype
and whether its address is 16-byte aligned; for anything else its type and exact value (so every property of
an int or float the JIT specialises on is covered); plus every keyword (constexprs and launch options such as
``num_warps``, by value) and the current device. Two calls with equal keys therefore resolve to the same
compiled kernel in the JIT too. Tensors must be passed positionally (a keyword tensor raises TypeError).

The direct path is used on CUDA only (never under ``TRITON_INTERPRET=1``) and with Triton 3.6 or later (the
JIT's launcher call that this module repeats was read in 3.6 and 3.9); set ``VIDEOMAMBA_TRITON_DIRECT=0`` (or
:data:`ENABLED` = False) to go through the JIT on every call.
"""
import functools
import inspect
import os

import torch
import triton

try:  # the launch hooks (profilers) live in triton.knobs from 3.4 on
    from triton import knobs as _knobs
except ImportError:  # older Triton: always launch through the JIT
    _knobs = None

# the launcher call below is the JIT's own (read in Triton 3.6 and 3.9); older versions keep the JIT path
_VERSION_OK = tuple(int(v) for v in triton.__version__.split(".")[:2] if v.isdigit()) >= (3, 6)
ENABLED = (os.environ.get("VIDEOMAMBA_TRITON_DIRECT", "1") != "0" and os.environ.get("TRITON_INTERPRET") != "1"
           and _knobs is not None and _VERSION_OK)


def cdiv(a: int, b: int) -> int:
    """Host-side ceil division: ``triton.cdiv`` is a constexpr function whose call from Python unwraps its
    arguments (≈ 5 µs each on the benchmark host, 14 calls per layer)."""
    return -(-a // b)


def next_pow2(n: int) -> int:
    """Host-side ``triton.next_power_of_2`` for n ≥ 1 (see :func:`cdiv`)."""
    return 1 << (n - 1).bit_length()


def args_key(args):
    """What the JIT's specialisation of positional arguments can depend on (see the module docstring)."""
    return tuple([(a.dtype, a.data_ptr() % 16 == 0) if isinstance(a, torch.Tensor) else (type(a), a)
                  for a in args])


class Launcher:
    """``Launcher(jit_fn)[grid](*args, **kw)`` launches exactly like ``jit_fn[grid](*args, **kw)``."""

    def __init__(self, fn):
        self.fn = fn
        self._params = inspect.signature(fn.fn).parameters
        self._cache = {}  # key -> (compiled kernel, argument values after the positional ones) or None (JIT)

    def __getitem__(self, grid):
        return functools.partial(self._launch, grid)

    def _launch(self, grid, *args, **kw):
        if not ENABLED:
            return self.fn[grid](*args, **kw)
        dev = torch.cuda.current_device()
        key = (dev, args_key(args), tuple(kw.items()))
        hit = self._cache.get(key, False)
        if hit is False:  # first launch with this key: through the JIT, which compiles if needed
            tail = self._tail(len(args), kw)
            kernel = self.fn[grid](*args, **kw)
            direct = tail is not None and all(
                hasattr(kernel, a) for a in ("run", "function", "packed_metadata", "launch_metadata"))
            self._cache[key] = (kernel, tail) if direct else None
            return kernel
        if hit is None:
            return self.fn[grid](*args, **kw)
        kernel, tail = hit
        stream = triton.runtime.driver.active.get_current_stream(dev)  # what the JIT passes
        g = tuple(grid) + (1, 1)
        enter, leave = _knobs.runtime.launch_enter_hook, _knobs.runtime.launch_exit_hook
        meta = None if enter is None else kernel.launch_metadata(grid, stream, *args, *tail)
        kernel.run(g[0], g[1], g[2], stream, kernel.function, kernel.packed_metadata, meta, enter, leave,
                   *args, *tail)
        return kernel

    def _tail(self, n_args, kw):
        """The argument values after the ``n_args`` positional ones (keywords, else defaults), fixed for a
        key; None when a parameter has neither."""
        tail = []
        for name in list(self._params)[n_args:]:
            if name in kw:
                v = kw[name]
            elif self._params[name].default is not inspect.Parameter.empty:
                v = self._params[name].default
            else:
                return None
            if isinstance(v, torch.Tensor):  # the key holds keywords by value: a tensor would never hit again
                raise TypeError(f"{self.fn.fn.__name__}: pass tensor argument {name!r} positionally")
            tail.append(v)
        return tuple(tail)
