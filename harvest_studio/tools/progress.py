"""Progress bars for long operations (load, export, replay-check, simulate): tqdm's, in
the notebook or on the terminal, shown only once an operation has taken half a second and
only where a person is watching (a terminal, or a notebook kernel). Without tqdm (it comes
with the ``analysis`` extra) the operations run without a bar."""

from __future__ import annotations

import sys
from typing import Any

SHOW_AFTER = 0.5
"""seconds before a bar appears: quick operations show none"""


class Silent:
    """What stands in for a bar where none is shown."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_description(self, text: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def watched() -> bool:
    """Is a person watching: a terminal on stderr, or a notebook kernel?"""
    ipython = sys.modules.get("IPython")  # loaded already in a kernel: never imported here
    if "ipykernel" in sys.modules and ipython is not None:
        shell = ipython.get_ipython()
        return shell is not None and getattr(shell, "kernel", None) is not None
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def progress(total: float | None, description: str, *, unit: str = "it",
             show: bool | None = None, unit_scale: bool = False) -> Any:
    """A tqdm bar (``update``, ``set_description``, ``close``; a context manager), or a
    silent stand-in when ``show`` is False, nobody watches (``show=None``) or tqdm is
    missing."""
    if not (watched() if show is None else show):
        return Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return Silent()
    return tqdm(total=total, desc=description, unit=unit, unit_scale=unit_scale,
                delay=SHOW_AFTER, leave=False, file=sys.stderr)
