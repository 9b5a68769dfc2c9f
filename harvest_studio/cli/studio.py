"""``harvest studio``: JupyterLab on the project's notebooks, with the Harvest extension
and the project's database up, and the address to open printed.

The database comes up first (the embedded server, unless ``HARVEST_DATABASE_URL`` names
one), so the kernels and the Jupyter server extension find the same one. Jupyter's own log
goes to ``.harvest/studio.log``; this command prints the one line a person needs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path

from ..model.errors import UsageError
from ..store.connection import ENV_URL, database_url, describe_url, project_dir
from .common import EXIT_FAILURE, EXIT_OK, _print

TOUR = Path("notebooks") / "00_tour.ipynb"
STARTUP_TIMEOUT = 120.0


def studio_url(base: str, root: Path, token: str) -> str:
    """The page to open: the tour when the project has it, else Lab's file browser."""
    page = f"lab/tree/{TOUR.as_posix()}" if (root / TOUR).is_file() else "lab"
    return f"{base}/{page}?token={token}"


def _check_installed() -> None:
    import importlib.util

    missing = [m for m in ("jupyterlab", "fastapi", "ipykernel", "anywidget")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"harvest studio needs the studio extra ({', '.join(missing)} "
                         "missing): pip install 'harvest-studio[studio]'")
    if not extension_installed():
        print("harvest studio: the JupyterLab extension is not installed here (an editable "
              "install without node builds none); the notebooks work, the sidebar will not "
              "show", file=sys.stderr)


def extension_installed() -> bool:
    """True when JupyterLab will find the Harvest extension's bundle."""
    from jupyter_core.paths import jupyter_path

    return any((Path(p) / "harvest-studio" / "package.json").is_file()
               for p in jupyter_path("labextensions"))


def _cmd_studio(args: argparse.Namespace) -> int:
    if args.namespace != "default":
        raise UsageError("harvest studio serves every namespace: choose one in the sidebar "
                         "(its list at the top), not with --namespace")
    _check_installed()
    root = Path(args.root).expanduser().resolve() if args.root else project_dir()
    if not root.is_dir():
        raise UsageError(f"--root {args.root!r} is not a directory")
    url = database_url(args.database_url)  # the embedded server starts here, once
    token = secrets.token_hex(24)
    port = args.port or _free_port(args.ip)
    log_path = root / ".harvest" / "studio.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # the token travels in the environment, not on a command line that `ps` shows
    env = {**os.environ, ENV_URL: url, "JUPYTER_TOKEN": token}
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ip={args.ip}",
        f"--port={port}",
        f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.jpserver_extensions={'harvest_studio.jupyter': True}",
    ]
    if os.geteuid() == 0:
        command.append("--ServerApp.allow_root=True")
    started = time.monotonic()
    _interrupt_on_termination()
    with log_path.open("ab") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = f"http://{'127.0.0.1' if args.ip in ('0.0.0.0', '') else args.ip}:{port}"
        try:
            if not _wait_up(server, f"{base}/api/status?token={token}"):
                _print(f"harvest studio: JupyterLab did not start; see {log_path}")
                return EXIT_FAILURE
            page = studio_url(base, root, token)
            if args.json:
                _print(json.dumps({"url": page, "database": describe_url(url),
                                   "root": str(root), "log": str(log_path)}))
            else:
                _print(f"Harvest Studio is up in {time.monotonic() - started:.1f}s: {page}\n"
                       f"  database {describe_url(url)} · notebooks in {root}\n"
                       f"  Jupyter's log: {log_path} · Ctrl-C stops the studio")
            sys.stdout.flush()
            if not args.no_browser:
                webbrowser.open(page)
            return EXIT_OK if server.wait() == 0 else EXIT_FAILURE
        except KeyboardInterrupt:
            return EXIT_OK
        finally:
            _stop(server)


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP (a closed terminal, `kill`, `docker stop`) stop the studio as
    Ctrl-C does, so JupyterLab, in a session of its own, goes too."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def _wait_up(server: subprocess.Popen[bytes], status_url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(status_url, timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # Jupyter shuts its kernels down on SIGTERM
    try:
        server.wait(20)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # too slow, or a second Ctrl-C
        server.kill()
        server.wait()


def _free_port(ip: str) -> int:
    import socket

    for candidate in range(8888, 8988):
        with socket.socket() as s:
            try:
                s.bind((ip or "127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    with socket.socket() as s:
        s.bind((ip or "127.0.0.1", 0))
        return int(s.getsockname()[1])
