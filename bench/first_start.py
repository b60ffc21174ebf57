"""First start of a fresh plugin copy: spawn scripts/mcp-server in a folder with no .venv, time to tools/list.

The copy (the repository's files as `git ls-files` lists them, tracked and new, without .venv or .tools)
stands in for Claude Code's plugin cache. The caches are empty (uv, pip and mesh-plugin caches in a temp
folder), so every download is counted, as for a new user. Routes:
  uv     a uv on PATH (the first of: --uv, `uv` on PATH, .tools/uv/bin/uv)
  no-uv  no uv on PATH: the launcher fetches the uv pinned in uv.lock from PyPI first
Then --later starts of the same copy (the ones after the first), beside a minimal one-tool server.

Usage: python bench/first_start.py [--route uv|no-uv|both] [--later 3] [--warm-cache] [--old] [--rev HEAD]
  --old: the launcher of the previous version (pip into .venv: scripts/mcp-server at c14d003) for comparison
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mcp
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent


def plugin_copy(dest: Path, src: Path = ROOT, rev: str | None = None) -> Path:
    """The repository's files (tracked, and new ones not ignored) copied to dest, as a clean clone would hold;
    with rev, the files of that commit instead of the work tree's."""
    if rev:
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=src, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return dest
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=src,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        s = src / f
        if not s.exists() and not s.is_symlink():  # deleted in the work tree, not yet committed
            continue
        d = dest / f
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_symlink():
            d.symlink_to(os.readlink(s))
        else:
            shutil.copy2(s, d)
    return dest


def overloaded() -> str | None:
    """Why wall-clock numbers of this moment say nothing about the machine (other work queued on every core), or None.
    CI runs alone on its machine, so there the answer is always None and every budget is enforced."""
    if os.environ.get("CI") == "true":
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    return f"load average {load:.1f} on {cores} cores (other work is running)" if load > 2 * cores else None


def find_uv() -> str | None:
    for c in (shutil.which("uv"), str(ROOT / ".tools/uv/bin/uv")):
        if c and os.access(c, os.X_OK):
            return c
    return None


def clean_env(tmp: Path, uv: str | None, warm_cache: bool = False) -> dict[str, str]:
    """The environment of a new user: no MESH_PLUGIN_* settings, empty caches, uv on PATH only when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_PLUGIN_", "UV_", "VIRTUAL_ENV"))}
    dirs = [d for d in env.get("PATH", "").split(os.pathsep)
            if d and not os.path.exists(os.path.join(d, "uv")) and ".venv" not in d]
    if uv:
        shim = tmp / "uv-bin"
        shim.mkdir(exist_ok=True)
        for name in ("uv", "uvx"):
            target = Path(uv).with_name(name)
            if target.exists() and not (shim / name).exists():
                (shim / name).symlink_to(target)
        dirs.insert(0, str(shim))
    env["PATH"] = os.pathsep.join(dirs)
    env["KUBECONFIG"] = str(tmp / "no-kubeconfig")
    env["MESH_PLUGIN_CACHE_DIR"] = str(tmp / "schema-cache")
    if not warm_cache:
        env["UV_CACHE_DIR"] = str(tmp / "uv-cache")
        env["PIP_CACHE_DIR"] = str(tmp / "pip-cache")
        env["XDG_CACHE_HOME"] = str(tmp / "xdg-cache")
    return env


async def _tools_list(command: str, args: list[str], env: dict[str, str], errlog, timeout: float) -> tuple[float, int]:
    t0 = time.perf_counter()
    params = StdioServerParameters(command=command, args=args, env=env)
    with anyio_timeout(timeout):
        async with stdio_client(params, errlog=errlog) as (r, w):
            async with mcp.ClientSession(r, w) as s:
                await s.initialize()
                tools = await s.list_tools()
                dt = time.perf_counter() - t0
    return dt, len(tools.tools)


def anyio_timeout(seconds: float):
    import anyio

    return anyio.fail_after(seconds)


def time_start(command: str, args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[float, int, str]:
    """Spawn to the tools/list answer: (seconds, number of tools, the server's stderr)."""
    with tempfile.TemporaryFile("w+") as err:
        try:
            dt, n = asyncio.run(_tools_list(command, args, env, err, timeout))
        except BaseException as e:  # noqa: BLE001 - report what the server said
            err.seek(0)
            raise RuntimeError(f"{command}: no tools/list answer ({type(e).__name__}: {e}); stderr:\n{err.read()[-3000:]}") from e
        err.seek(0)
        return dt, n, err.read()


def wait_background(venv: Path, limit: float = 120) -> float:
    """Wait until the first start's background bytecode compile of this venv has ended; the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        r = subprocess.run(["pgrep", "-f", f"{venv}/bin/python -m compileall"], capture_output=True)
        if r.returncode != 0:
            break
        time.sleep(0.2)
    return time.perf_counter() - t0


def first_start(route: str, later: int, warm_cache: bool, old: bool, rev: str | None = None) -> dict[str, float]:
    uv = find_uv() if route == "uv" else None
    if route == "uv" and not uv:
        raise SystemExit("no uv found: run `make venv` (bootstraps .tools/uv) or put uv on PATH")
    with tempfile.TemporaryDirectory(prefix="mesh-first-start-", ignore_cleanup_errors=True) as t:
        tmp = Path(t)
        plugin = plugin_copy(tmp / "plugin", rev=rev)
        if old:
            launcher = subprocess.run(["git", "show", "c14d003:scripts/mcp-server"], cwd=ROOT, capture_output=True,
                                      text=True, check=True).stdout
            (plugin / "scripts/mcp-server").write_text(launcher)
        env = clean_env(tmp, uv, warm_cache)
        cmd = str(plugin / "scripts/mcp-server")
        dt, n, err = time_start(cmd, [], env)
        label = f"{'old launcher, ' if old else ''}{route}{', warm cache' if warm_cache else ', empty caches'}"
        print(f"first start ({label}): {dt:6.2f} s to tools/list ({n} tools)")
        for line in err.strip().splitlines():
            print(f"    stderr: {line}")
        res = {"first": dt}
        waited = wait_background(plugin / ".venv")  # as between two sessions
        print(f"    background bytecode compile ended {waited:.1f} s after the answer")
        if later:  # interleaved pairs, so that a busy neighbour slows both of a pair alike
            minimal = (str(plugin / ".venv/bin/python"), [str(ROOT / "bench/_minimal_server.py")])
            pairs = [(time_start(cmd, [], env)[0], time_start(*minimal, env)[0]) for _ in range(later)]
            res["later"] = statistics.median(a for a, _ in pairs)
            res["minimal"] = statistics.median(b for _, b in pairs)
            res["ratio"] = statistics.median(a / b for a, b in pairs)
            print(f"later starts: median {res['later'] * 1000:.0f} ms; minimal one-tool server in the same venv "
                  f"{res['minimal'] * 1000:.0f} ms; ratio {res['ratio']:.2f}x (median of {later} interleaved pairs)")
        return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--route", choices=["uv", "no-uv", "both"], default="both")
    ap.add_argument("--later", type=int, default=3)
    ap.add_argument("--warm-cache", action="store_true", help="use the user's uv/pip caches (a reinstall, not a new user)")
    ap.add_argument("--old", action="store_true", help="the previous launcher (pip into .venv), for comparison")
    ap.add_argument("--rev", help="copy this commit (git archive) instead of the work tree, e.g. HEAD")
    a = ap.parse_args()
    for route in (["uv", "no-uv"] if a.route == "both" else [a.route]):
        first_start(route, a.later, a.warm_cache, a.old, a.rev)


if __name__ == "__main__":
    main()
