"""What a user installs: the wheel built from a clean checkout carries the Lab extension
and the server extension's switch, and JupyterLab finds both after ``pip install`` of that
wheel into a fresh venv; and Binder's files, replayed without docker (a fresh venv from
exactly what ``binder/`` declares, ``postBuild``, then ``start``), run the tour notebook
on the embedded PostgreSQL and serve the API under /harvest/."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import httpx
import pytest

from .checkout import clean_copy
from .lab_server import free_port, wait_until_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
EXTENSION = "share/jupyter/labextensions/harvest-studio"
SERVER_SWITCH = "etc/jupyter/jupyter_server_config.d/harvest_studio.jupyter.json"


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, timeout=timeout,
                          capture_output=True, text=True)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout + done.stderr


def _fresh_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def _isolated_env(bin_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without what would leak this checkout, its venv or its
    database into the fresh one (Binder has no database URL: the embedded default)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HARVEST_DATABASE_URL", "XDG_RUNTIME_DIR")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    return {**env, **extra}


def test_the_wheel_carries_the_lab_extension_and_jupyter_enables_it(tmp_path: Path) -> None:
    source = clean_copy(tmp_path / "checkout")
    assert not (source / "harvest_studio" / "labextension").exists()  # not in git
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"),
          str(source)], cwd=tmp_path, env=_isolated_env())
    (wheel,) = (tmp_path / "dist").glob("harvest_studio-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = next(n.split("/data/")[0] for n in names if "/data/" in n) + "/data/"
    assert f"{data}{EXTENSION}/package.json" in names
    assert any(n.startswith(f"{data}{EXTENSION}/static/remoteEntry.") for n in names)
    assert f"{data}{SERVER_SWITCH}" in names
    assert "harvest_studio/jupyter/00_tour.ipynb" in names
    assert not any("node_modules" in n or n.startswith("extension/") for n in names)

    bin_dir = _fresh_venv(tmp_path / "venv")
    env = _isolated_env(bin_dir)
    _run([str(bin_dir / "pip"), "install", "-q", f"{wheel}[studio]"], cwd=tmp_path, env=env)
    listed = _run([str(bin_dir / "jupyter"), "labextension", "list"], cwd=tmp_path, env=env)
    assert "harvest-studio v0.1.0" in listed and "enabled" in listed.split("harvest-studio")[1]
    servers = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], cwd=tmp_path,
                   env=env)
    assert "harvest_studio.jupyter" in servers
    assert "enabled" in servers.split("harvest_studio.jupyter", 1)[1].splitlines()[0]


def test_binder_replayed_without_docker_runs_the_tour(tmp_path: Path) -> None:
    repo = clean_copy(tmp_path / "repo")
    binder = repo / "binder"
    runtime = (binder / "runtime.txt").read_text().strip()
    requires = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["requires-python"]
    assert runtime == "python-3.11" and requires == ">=3.11"
    assert (binder / "start").read_text().rstrip().endswith('exec "$@"')
    assert os.access(binder / "start", os.X_OK) and os.access(binder / "postBuild", os.X_OK)

    bin_dir = _fresh_venv(tmp_path / "venv")
    (tmp_path / "home").mkdir()
    clean = _isolated_env(bin_dir, HOME=str(tmp_path / "home"))
    # repo2docker runs these from the repository's root, in this order
    _run([str(bin_dir / "pip"), "install", "-q", "-r", "binder/requirements.txt"], cwd=repo,
         env=clean)
    subprocess.run(["bash", "-e", "binder/postBuild"], cwd=repo, env=clean, check=True,
                   timeout=300, capture_output=True)
    try:
        _run(["binder/start", "papermill", "-k", "python3", "--cwd", "notebooks",
              "notebooks/00_tour.ipynb", str(tmp_path / "tour-out.ipynb")], cwd=repo,
             env=clean, timeout=600)
        port, token = free_port(), "binder-check"
        lab = subprocess.Popen(
            ["binder/start", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
             f"--ServerApp.root_dir={repo}"],
            cwd=repo, env=clean, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/api/status?token={token}", timeout=120)
            answer = httpx.get(f"{base}/harvest/api/v1/runs", timeout=60,
                               params={"query": 'workflow_type = "onboarding"'},
                               headers={"Authorization": f"token {token}"})
            assert answer.status_code == 200, answer.text
            runs = answer.json()["runs"]
            assert [r["status"] for r in runs] == ["COMPLETED"]
            assert runs[0]["workflow_id"].startswith("tour-onboarding-")
            tour = httpx.get(f"{base}/harvest/lab/tour", timeout=30,
                             headers={"Authorization": f"token {token}"})
            assert tour.json() == {"path": "notebooks/00_tour.ipynb"}
        finally:
            lab.terminate()
            lab.wait(30)
    finally:
        subprocess.run([str(bin_dir / "harvest"), "db", "stop"], cwd=repo, env=clean,
                       timeout=60, capture_output=True)
