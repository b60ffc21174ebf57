#!/usr/bin/env python3
"""Install mesh-plugin's Python environment from the lock (uv.lock), for the plugin launcher, `make` and CI.

    install.py [--venv DIR] [--extra NAME]... [--editable] [--locked] [--compile]   a venv from uv.lock
    install.py --uv                                                                 print the uv to use

uv: $MESH_PLUGIN_UV, else `uv` on PATH (0.8 or later), else the uv pinned in uv.lock (group `bootstrap`),
installed from PyPI into .tools/uv with pip, hash-checked against the lock. Packages come only from uv.lock
(`uv sync --frozen`): the same versions and hashes for the plugin, `make` and CI.

Without --editable the project itself is not built: a .pth file puts src/ on the venv's path and a
`mesh-plugin` script is written (what an editable install does, minus the build, which would fetch
setuptools and take seconds of the first start). Without --compile the bytecode is compiled in the
background, at low priority, after the server has started.

Errors go to stderr as `mesh-plugin: ... Fix: ...` (the MCP client shows stderr) with exit code 1.
Runs on any Python 3 (it picks a Python >= 3.11 for the venv); standard library only.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
STAMP = ".mesh-plugin-installed"
MIN_PYTHON = (3, 11)
MIN_UV = (0, 8)


class InstallError(Exception):
    def __init__(self, why: str, fix: str):
        super().__init__(why)
        self.why, self.fix = why, fix


def log(msg: str) -> None:
    print(f"mesh-plugin: {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], what: str, fix: str, env: dict[str, str] | None = None) -> str:
    """Run cmd, return its stdout; on failure raise InstallError with the end of its stderr."""
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise InstallError(f"{what}: cannot run {cmd[0]}: {e.strerror}", fix) from e
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-12:])
        raise InstallError(f"{what} failed (exit {r.returncode}):\n{tail}", fix)
    return r.stdout


# --- Python -----------------------------------------------------------------------------------------------

def python_version(exe: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([exe, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=20).stdout.split()
        return tuple(int(x) for x in out) if len(out) == 2 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def find_python() -> str:
    """The interpreter for the venv: $MESH_PLUGIN_PYTHON, else this one if new enough, else python3.13..3.11."""
    want = ".".join(map(str, MIN_PYTHON))
    asked = os.environ.get("MESH_PLUGIN_PYTHON")
    if asked:
        exe = shutil.which(asked) or asked
        v = python_version(exe)
        if v is None:
            raise InstallError(f"MESH_PLUGIN_PYTHON={asked} is not a Python interpreter",
                               f"set MESH_PLUGIN_PYTHON to a Python {want}+ (e.g. /usr/bin/python3.12) or unset it")
        if v < MIN_PYTHON:
            raise InstallError(f"MESH_PLUGIN_PYTHON={asked} is Python {v[0]}.{v[1]}; mesh-plugin needs {want}+",
                               f"set MESH_PLUGIN_PYTHON to a Python {want}+ interpreter")
        return exe
    if sys.version_info[:2] >= MIN_PYTHON:
        return sys.executable
    for name in ("python3.14", "python3.13", "python3.12", "python3.11"):
        exe = shutil.which(name)
        if exe and (python_version(exe) or (0,)) >= MIN_PYTHON:
            return exe
    raise InstallError(f"python3 is Python {sys.version_info[0]}.{sys.version_info[1]} and no Python {want}+ "
                       "was found on PATH",
                       f"install Python {want} or later, or set MESH_PLUGIN_PYTHON to one")


# --- uv -----------------------------------------------------------------------------------------------------

def locked_uv() -> tuple[str, list[tuple[str, str]]]:
    """The uv version pinned in uv.lock and its wheels: (url, sha256) each."""
    text = LOCK.read_text()
    m = re.search(r'^\[\[package\]\]\nname = "uv"\nversion = "([^"]+)"\n(.*?)(?=^\[\[package\]\]|\Z)', text, re.M | re.S)
    if not m:
        raise InstallError("uv.lock has no pinned uv (dependency group 'bootstrap')",
                           "run `make lock` in a checkout of mesh-plugin")
    wheels = m.group(2).split("wheels = [", 1)[-1]
    return m.group(1), re.findall(r'url = "([^"]+\.whl)", hash = "sha256:([0-9a-f]{64})"', wheels)


def wheel_for_here(wheels: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The wheel (url, sha256) whose platform tags fit this machine, or None (then pip chooses)."""
    import platform

    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if sys.platform.startswith("linux") else "arm64"}.get(machine, machine)

    def fits(tag: str) -> bool:
        if sys.platform.startswith("linux"):
            libc, libc_version = platform.libc_ver()
            if libc != "glibc":
                m = re.fullmatch(r"musllinux_\d+_\d+_(.+)", tag)
                return bool(m) and m.group(1) == machine and not libc
            m = re.fullmatch(r"manylinux_(\d+)_(\d+)_(.+)|manylinux2014_(.+)", tag)
            if not m:
                return False
            need = (int(m.group(1)), int(m.group(2))) if m.group(1) else (2, 17)
            have = tuple(int(x) for x in libc_version.split(".")[:2]) if libc_version else (0, 0)
            return (m.group(3) or m.group(4)) == machine and have >= need
        if sys.platform == "darwin":
            m = re.fullmatch(r"macosx_(\d+)_(\d+)_(.+)", tag)
            mac = tuple(int(x) for x in (platform.mac_ver()[0] or "0.0").split(".")[:2])
            return bool(m) and m.group(3) == machine and mac >= (int(m.group(1)), int(m.group(2)))
        if sys.platform == "win32":
            return tag == {"x86_64": "win_amd64", "arm64": "win_arm64", "aarch64": "win_arm64"}.get(machine, "win32")
        return False

    for url, sha in wheels:
        tags = url.rsplit("/", 1)[-1][:-len(".whl")].split("-")[-1].split(".")
        if any(fits(t) for t in tags):
            return url, sha
    return None


def uv_version(exe: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def find_uv(python: str) -> str:
    asked = os.environ.get("MESH_PLUGIN_UV")
    if asked:
        if uv_version(asked) is None:
            raise InstallError(f"MESH_PLUGIN_UV={asked} is not a working uv", "point MESH_PLUGIN_UV at uv or unset it")
        return asked
    on_path = shutil.which("uv")
    if on_path and (uv_version(on_path) or (0,)) >= MIN_UV:
        return on_path
    version, wheels = locked_uv()
    target = ROOT / ".tools" / "uv"
    exe = target / "bin" / ("uv.exe" if os.name == "nt" else "uv")
    if exe.exists() and uv_version(str(exe)) == tuple(int(x) for x in version.split(".")[:3]):
        return str(exe)
    bootstrap_uv(python, version, wheels, target)
    return str(exe)


def bootstrap_uv(python: str, version: str, wheels: list[tuple[str, str]], target: Path) -> None:
    """The locked uv wheel into target: downloaded from the lock's URL and checked against its sha256 (no pip
    start-up, about a second); when that fails or no wheel fits, with pip (hash-checked too); with no pip, from a
    throwaway venv's pip."""
    t0 = time.monotonic()
    fix = ("install uv (e.g. `pipx install uv` or your package manager) so that it is on PATH, or make "
           "PyPI reachable (HTTPS_PROXY if you need a proxy; PIP_INDEX_URL for a mirror)")
    shutil.rmtree(target, ignore_errors=True)
    chosen = wheel_for_here(wheels)
    why = "no wheel in uv.lock fits this machine"
    if chosen:
        try:
            download_uv_wheel(*chosen, target)
            log(f"bootstrapped uv {version} from PyPI into {target} ({time.monotonic() - t0:.1f} s)")
            return
        except (OSError, ValueError) as e:  # urllib's errors are OSErrors
            why = f"downloading {chosen[0].rsplit('/', 1)[-1]} failed: {e}"
            shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="mesh-plugin-uv-") as tmp:
        req = Path(tmp) / "uv.txt"
        req.write_text(f"uv=={version} " + " ".join(f"--hash=sha256:{h}" for _, h in wheels) + "\n")
        pip = [python, "-m", "pip"]
        if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
            # No pip for this Python (e.g. a distribution's python3): a throwaway venv brings ensurepip's pip.
            run([python, "-m", "venv", str(Path(tmp) / "venv")], f"{why}; creating a venv to get pip",
                fix + "; on Debian/Ubuntu: apt install python3-venv")
            pip = [str(Path(tmp) / "venv" / "bin" / "python"), "-m", "pip"]
        run([*pip, "install", "-q", "--disable-pip-version-check", "--no-input", "--root-user-action=ignore",
             "--no-warn-script-location", "--no-deps", "--only-binary=:all:", "--require-hashes",
             "--target", str(target), "-r", str(req)], f"{why}; then installing uv {version} with pip", fix)
    log(f"bootstrapped uv {version} from PyPI with pip into {target} ({time.monotonic() - t0:.1f} s; {why})")


def download_uv_wheel(url: str, sha256: str, target: Path) -> None:
    """Fetch the wheel, check its sha256 against the lock, and unpack its uv and uvx into target/bin."""
    import urllib.request
    import zipfile

    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=target) as fh:
        h = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - the URL comes from the lock
            while chunk := r.read(1 << 20):
                h.update(chunk)
                fh.write(chunk)
        if h.hexdigest() != sha256:
            raise ValueError(f"sha256 {h.hexdigest()} is not the lock's {sha256}")
        fh.seek(0)
        (target / "bin").mkdir(exist_ok=True)
        with zipfile.ZipFile(fh) as z:
            for info in z.infolist():
                name = info.filename.rsplit("/", 1)[-1]
                if re.fullmatch(r"[^/]+\.data/scripts/uvx?(\.exe)?", info.filename):
                    tmp = target / "bin" / f".{name}.tmp"
                    tmp.write_bytes(z.read(info))
                    tmp.chmod(0o755)
                    os.replace(tmp, target / "bin" / name)
    if not (target / "bin" / ("uv.exe" if os.name == "nt" else "uv")).exists():
        raise ValueError("the wheel has no uv binary")


# --- the venv -----------------------------------------------------------------------------------------------

def lock_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages")) or sorted(venv.glob("Lib/site-packages"))
    if not found:
        raise InstallError(f"no site-packages in {venv}", f"remove {venv} and start again")
    return found[0]


def link_source(venv: Path) -> None:
    """src/ on the venv's path and a `mesh-plugin` script: the project, usable in place without a build."""
    (site_packages(venv) / "_mesh_plugin_src.pth").write_text(str(ROOT / "src") + "\n")
    script = venv / "bin" / "mesh-plugin"
    if not script.exists():  # an editable install (make) already wrote the real one
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom mesh_plugin.cli import main\n"
                          "if __name__ == '__main__':\n    sys.exit(main())\n")
        script.chmod(0o755)


def compile_in_background(python: str, paths: list[Path]) -> None:
    """Bytecode for later starts, compiled after this one, at the lowest priority, detached from the server."""
    def lower() -> None:
        try:
            os.nice(19)
        except OSError:
            pass
    subprocess.Popen([python, "-m", "compileall", "-q", *map(str, paths)], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                     preexec_fn=lower if os.name == "posix" else None)


def install(venv: Path, extras: list[str], editable: bool, locked: bool, compile_now: bool) -> None:
    t0 = time.monotonic()
    if not LOCK.exists():
        raise InstallError(f"{LOCK} is missing", "reinstall the plugin, or run `make lock` in a checkout")
    python = find_python()
    uv = find_uv(python)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
           "VIRTUAL_ENV": str(venv)}
    for var in ("UV_NO_SYNC", "UV_FROZEN", "UV_LOCKED"):
        env.pop(var, None)
    fix_net = ("check that PyPI can be reached (set HTTPS_PROXY if you need a proxy, UV_NATIVE_TLS=1 behind a "
               "TLS-inspecting one), then start the server again (in Claude Code: /mcp, then reconnect)")
    run([uv, "venv", "-q", "--allow-existing", "--python", python, str(venv)], "creating the venv",
        f"remove {venv} and start again, or set MESH_PLUGIN_VENV to a writable folder", env)
    sync = [uv, "sync", "-q", "--project", str(ROOT), "--no-default-groups", "--python", python]
    sync += ["--locked"] if locked else ["--frozen"]
    sync += [a for e in extras for a in ("--extra", e)]
    if not editable:
        sync += ["--no-install-project", "--inexact"]  # never remove what `make` installed into the same venv
    if compile_now:
        sync += ["--compile-bytecode"]
    fix = fix_net
    if locked:
        fix = "if uv says the lock needs updating: run `make lock` and commit uv.lock; else " + fix_net
    run(sync, f"installing the locked packages (uv.lock) with {uv}", fix, env)
    if not editable:
        link_source(venv)
    else:  # the editable install puts src/ on the path itself
        (site_packages(venv) / "_mesh_plugin_src.pth").unlink(missing_ok=True)
    if compile_now:
        run([str(venv / "bin" / "python"), "-m", "compileall", "-q", str(ROOT / "src")], "compiling src", "", env)
    else:
        compile_in_background(str(venv / "bin" / "python"), [site_packages(venv), ROOT / "src"])
    (venv / STAMP).write_text(f"{lock_digest()} {','.join(sorted(extras))}\n")
    log(f"installed the locked packages into {venv} in {time.monotonic() - t0:.1f} s")


def with_lock(venv: Path, fn) -> None:
    """One installer at a time per venv (a client may start the server twice at once). The lock file lives in the
    venv's folder (uv venv --allow-existing keeps it) and is never removed, so that every installer locks one file."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return fn()
    venv.mkdir(parents=True, exist_ok=True)
    with open(venv / ".install-lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        return fn()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", type=Path, default=ROOT / ".venv")
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("--editable", action="store_true", help="install the project itself (a setuptools editable build)")
    ap.add_argument("--locked", action="store_true", help="fail when uv.lock does not match pyproject.toml")
    ap.add_argument("--compile", action="store_true", help="compile bytecode now (default: in the background)")
    ap.add_argument("--if-needed", action="store_true", help="do nothing when the venv was installed from this lock")
    ap.add_argument("--uv", action="store_true", help="print the path of the uv to use (bootstrapping it) and exit")
    a = ap.parse_args(argv)
    try:
        if a.uv:
            print(find_uv(find_python()))
            return 0
        venv = a.venv.absolute()

        def go() -> None:
            stamp = venv / STAMP
            if a.if_needed and stamp.exists() and (venv / "bin" / "mesh-plugin").exists() \
                    and stamp.read_text().split()[0] == lock_digest():
                os.utime(stamp)  # the lock was touched, not changed: later starts skip this check again
                return
            install(venv, a.extra, a.editable, a.locked, a.compile)
        with_lock(venv, go)
        return 0
    except InstallError as e:
        log(f"could not install its Python environment: {e.why}")
        if e.fix:
            log(f"Fix: {e.fix}.")
        return 1
    except OSError as e:  # e.g. a plugin folder the user cannot write to
        log(f"could not install its Python environment: {e}")
        log("Fix: set MESH_PLUGIN_VENV to a folder you can write to (and check the plugin folder's permissions).")
        return 1


if __name__ == "__main__":
    sys.exit(main())
