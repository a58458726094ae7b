"""Cost checks that do not flake: CPU time of this process, averaged, with a loose bound and a fail-fast cap.

``assert_linear(make, run)`` builds an input of some size and one 4x longer with ``make`` and
checks that ``run`` costs less than 12x as much on the longer one (linear: about 4x; quadratic:
16x). A run over the cap (the quadratic code these tests guard against needs minutes) fails at
once instead of holding the test run.
"""

from __future__ import annotations

import gc
import itertools
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class TooSlow(Exception):
    pass


@contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    """Raise TooSlow after ``seconds`` of CPU time (SIGPROF: the regex engine checks for signals)."""

    def stop(signum: int, frame: Any) -> None:
        raise TooSlow(f"used more than {seconds} s of CPU time")

    old = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)


def cpu_cost(run: Callable[[Any], object], inputs: Iterator[Any], *, spend: float = 0.1) -> float:
    """CPU seconds per ``run(x)``, averaged over ``spend`` seconds of calls on the next ``inputs``.

    Process time, so other processes on the machine do not count; averaged, because on some
    machines that clock only moves in ticks of a few milliseconds; the garbage collector off.
    Fresh inputs defeat caches (spaCy's tokenizer remembers every chunk it has seen).
    """
    runs, spent = 0, 0.0
    gc.collect()
    gc.disable()  # a full collection in a big test session would land in one measurement
    try:
        with cpu_limit(10.0):
            while spent < spend:
                x = next(inputs)
                start = time.process_time()
                run(x)
                spent += time.process_time() - start
                runs += 1
    finally:
        gc.enable()
    return spent / runs


def assert_linear(
    make: Callable[[int], Any], run: Callable[[Any], object], size: int, *, fresh: bool = False
) -> None:
    """``run`` on ``make(4 * size)`` costs less than 12x ``run`` on ``make(size)``, plus 1 ms for noise.

    ``fresh``: a new input for each call, ``make(size + i)`` for i = 0, 1, 2...
    """

    def inputs(n: int) -> Iterator[Any]:
        return (make(n + i) for i in itertools.count()) if fresh else itertools.repeat(make(n))

    # The least of three measurements of each size, as timeit reports: one measurement that a page
    # fault or a neighbour's cache traffic slowed must not decide; the bound stays 12x.
    small = min(cpu_cost(run, inputs(size)) for _ in range(3))
    big = min(cpu_cost(run, inputs(4 * size)) for _ in range(3))
    assert big < 12 * small + 0.001, f"size {size:,}: {small * 1e3:.2f} ms; 4x: {big * 1e3:.2f} ms"
