"""``hs.simulation``: the distributions ``hs.simulate`` takes for given durations, and its
result types (the ``analysis`` extra: numpy).

>>> hs.simulate(nightly, durations={"extract": hs.simulation.lognormal(2, 5)})
... # doctest: +SKIP
"""

from __future__ import annotations

from .model.errors import UsageError

try:
    import numpy  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    raise UsageError(
        "simulation needs numpy: pip install 'harvest-studio[analysis]'"
    ) from None

from .tools.simulation import (
    Comparison,
    Distribution,
    Latency,
    Makespan,
    Simulation,
    constant,
    empirical,
    exponential,
    lognormal,
    simulate,
    uniform,
)

__all__ = [
    "Comparison",
    "Distribution",
    "Latency",
    "Makespan",
    "Simulation",
    "constant",
    "empirical",
    "exponential",
    "lognormal",
    "simulate",
    "uniform",
]
