"""Loading and unloading the extension: ``%load_ext harvest_studio`` registers
``%harvest``, its completer, its cell hook and its settings; ``%unload_ext`` removes them."""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING

from .core import HarvestMagics, _configurables, _forget

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def _instance(shell: InteractiveShell) -> HarvestMagics | None:
    for configurable in _configurables(shell):
        if isinstance(configurable, HarvestMagics):
            return configurable
    return None


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext harvest_studio``: register ``%harvest``, its completer, its cell hook
    and its settings."""
    if _instance(shell) is not None:
        return
    magics = HarvestMagics(shell)
    shell.register_magics(magics)
    shell.Completer.custom_matchers.append(magics.complete)
    shell.events.register("post_run_cell", magics.post_run_cell)
    atexit.register(magics.close)
    magics.versions.scan(magics.user_ns)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext harvest_studio``: stop the in-kernel worker, then remove the magic,
    completer, cell hook and settings."""
    found = _instance(shell)
    if found is None:
        return
    magics: HarvestMagics = found
    magics.close()
    atexit.unregister(magics.close)
    for kind in ("line", "cell"):
        table = shell.magics_manager.magics[kind]
        bound = table.get("harvest")
        if bound is not None and getattr(bound, "__self__", None) is magics:
            del table["harvest"]
    shell.magics_manager.registry.pop(type(magics).__name__, None)
    matchers = shell.Completer.custom_matchers
    matchers[:] = [m for m in matchers if getattr(m, "__self__", None) is not magics]
    try:
        shell.events.unregister("post_run_cell", magics.post_run_cell)
    except ValueError:
        pass
    _forget(shell, magics)
