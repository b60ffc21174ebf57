"""Distribution (issue 24): the lock, the first start of a fresh plugin copy, the wheel, versions, client snippets."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import first_start as fs  # noqa: E402  (bench/first_start.py: the copy, the clean environment, the timing)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
VERSION = PYPROJECT["project"]["version"]


def uv() -> str:
    """The uv that make and the launcher use (scripts/install.py --uv; bootstraps the pinned one when needed)."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts/install.py"), "--uv"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def lock_package(name: str) -> dict:
    return next(p for p in LOCK["package"] if p["name"] == name)


def runtime_closure(here: bool = True) -> dict[str, str]:
    """name -> version of every locked package the runtime needs (no extras, no groups); here: on this platform."""
    from packaging.markers import Marker

    by_name = {p["name"]: p for p in LOCK["package"]}
    deps = lambda p: [d["name"] for d in p.get("dependencies", [])  # noqa: E731
                      if not here or "marker" not in d or Marker(d["marker"]).evaluate()]
    todo, seen = deps(by_name["mesh-plugin"]), {}
    while todo:
        n = todo.pop()
        if n not in seen:
            seen[n] = by_name[n]["version"]
            todo += deps(by_name[n])
    return seen


def report(measured: str) -> None:
    """Start-up figures are printed, not judged: the goals (first start under 10 s, later starts near a
    minimal server) are measured by bench/first_start.py, as speed goals live in bench/, not in timed tests."""
    print(measured)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the lock ----------------------------------------------------------------------------------------------

def _req(name: str, specifier: str = "", marker: str | None = None) -> tuple[str, str, str]:
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    return canonicalize_name(name), str(SpecifierSet(specifier)), str(Marker(marker)) if marker else ""


def _pyproject_req(text: str, extra: str | None = None) -> tuple[str, str, str]:
    from packaging.requirements import Requirement

    r = Requirement(text)
    return _req(r.name, str(r.specifier), f"extra == '{extra}'" if extra else None)


def test_lock_records_exactly_the_dependencies_of_pyproject():
    """Offline: the requirements uv.lock was resolved from are pyproject.toml's, every one (drift fails here)."""
    meta = lock_package("mesh-plugin")["metadata"]
    locked = {_req(d["name"], d.get("specifier", ""), d.get("marker")) for d in meta["requires-dist"]}
    wanted = {_pyproject_req(r) for r in PYPROJECT["project"]["dependencies"]}
    wanted |= {_pyproject_req(r, extra) for extra, reqs in PYPROJECT["project"]["optional-dependencies"].items()
               for r in reqs}
    assert locked == wanted, f"uv.lock is stale: run `make lock`\nonly in lock: {locked - wanted}\nonly in pyproject: {wanted - locked}"
    groups = {g: {_req(d["name"], d.get("specifier", "")) for d in ds} for g, ds in meta["requires-dev"].items()}
    assert groups == {g: {_pyproject_req(r) for r in rs} for g, rs in PYPROJECT["dependency-groups"].items()}
    assert lock_package("mesh-plugin")["version"] == VERSION


def test_uv_agrees_the_lock_is_current_and_refuses_a_drifted_one(tmp_path):
    r = subprocess.run([uv(), "lock", "--check", "--project", str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "uv.lock does not match pyproject.toml: run `make lock`\n" + r.stderr
    # The same check on a copy whose pyproject.toml gained a dependency fails, naming the fix.
    for f in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / f, tmp_path / f)
    text = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(text.replace('"pyyaml>=6",', '"pyyaml>=6",\n  "six>=1.16",', 1))
    r = subprocess.run([uv(), "lock", "--check", "--project", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "needs to be updated" in r.stderr, r.stderr


def test_every_locked_package_is_pinned_with_hashes():
    for p in LOCK["package"]:
        if p["name"] == "mesh-plugin":
            assert p["source"] == {"editable": "."}
            continue
        assert re.match(r"^\d", p["version"]), p
        assert "registry" in p["source"], f"{p['name']} does not come from the registry: {p['source']}"
        files = p.get("wheels", []) + ([p["sdist"]] if "sdist" in p else [])
        assert files and all(f["hash"].startswith("sha256:") for f in files), p["name"]
    assert lock_package("uv")["version"] == PYPROJECT["dependency-groups"]["bootstrap"][0].split("==")[1]
    assert PYPROJECT["build-system"]["requires"] == ["setuptools==84.2.1"]


def test_make_installs_from_the_lock():
    """The venv the tests run in holds exactly the locked versions (make venv: scripts/install.py --locked)."""
    import hashlib
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}
    locked = {p["name"]: p["version"] for p in LOCK["package"] if p["name"] != "uv"}
    wrong = {n: (installed[n], v) for n, v in locked.items() if n in installed and installed[n] != v}
    assert not wrong, f"installed != locked (run `make venv`): {wrong}"
    assert set(runtime_closure()) <= set(installed)
    stamp = (Path(sys.prefix) / ".mesh-plugin-installed").read_text().split()
    assert stamp == [hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest(), "sandbox,test"]


def test_claude_code_pin_is_the_one_make_installs(claude_bin):
    pin = PYPROJECT["tool"]["mesh-plugin"]["claude-code"]
    r = subprocess.run(["make", "-s", "--no-print-directory", "--eval", "print-claude-version: ; @echo $(CLAUDE_VERSION)",
                        "print-claude-version"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == pin, r.stdout + r.stderr
    out = subprocess.run([claude_bin, "--version"], capture_output=True, text=True, timeout=60).stdout
    assert out.split()[0] == pin, f"installed Claude Code {out.strip()} is not the pin {pin}: rm -rf .tools/claude; make claude"


# --- versions -----------------------------------------------------------------------------------------------

def test_versions_agree_everywhere():
    import mesh_plugin

    plugin = json.loads((ROOT / ".claude-plugin/plugin.json").read_text())
    market = json.loads((ROOT / ".claude-plugin/marketplace.json").read_text())
    out = subprocess.run([str(Path(sys.executable).parent / "mesh-plugin"), "--version"], capture_output=True,
                         text=True, timeout=60).stdout.strip()
    heading = re.search(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert heading, "CHANGELOG.md has no version heading"
    assert {VERSION, mesh_plugin.__version__, plugin["version"], market["plugins"][0]["version"],
            out.removeprefix("mesh-plugin "), heading.group(1)} == {VERSION}


# --- first start of a fresh plugin copy ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def fresh_plugin(tmp_path_factory):
    """A fresh copy of the plugin, its first start with no uv on PATH and empty caches (the slowest route)."""
    tmp = tmp_path_factory.mktemp("first-start")
    plugin = fs.plugin_copy(tmp / "plugin")
    assert not (plugin / ".venv").exists() and not (plugin / ".tools").exists()
    env = fs.clean_env(tmp, None)
    assert not shutil.which("uv", path=env["PATH"])
    seconds, n, err = fs.time_start(str(plugin / "scripts/mcp-server"), [], env)
    print(f"first start, no uv on PATH, empty caches: {seconds:.2f} s\n{err}")
    yield plugin, env, seconds, n, err
    fs.wait_background(plugin / ".venv")


def test_first_start_without_uv_bootstraps_uv_and_serves(fresh_plugin):
    plugin, env, seconds, n, err = fresh_plugin
    assert n == 11
    assert "bootstrapped uv " in err and "installed the locked packages" in err, err
    report(f"first start took {seconds:.1f} s")


def test_first_start_installs_the_locked_runtime(fresh_plugin):
    plugin = fresh_plugin[0]
    venv = plugin / ".venv"
    import hashlib

    assert (venv / ".mesh-plugin-installed").read_text().split()[0] == hashlib.sha256(
        (plugin / "uv.lock").read_bytes()).hexdigest()
    site = next(venv.glob("lib/python3*/site-packages"))
    got = {}
    for d in site.glob("*.dist-info"):
        meta = (d / "METADATA").read_text(errors="replace")
        name = re.search(r"^Name: (.+)$", meta, re.M).group(1).strip().lower().replace("_", "-").replace(".", "-")
        got[name] = re.search(r"^Version: (.+)$", meta, re.M).group(1).strip()
    assert got == runtime_closure(), "the plugin's venv is not exactly the locked runtime"
    assert (site / "_mesh_plugin_src.pth").read_text().strip() == str(plugin / "src")  # the project, not built
    # The uv it fetched is the one pinned in the lock (pip checked it against the lock's hashes).
    out = subprocess.run([str(plugin / ".tools/uv/bin/uv"), "--version"], capture_output=True, text=True).stdout
    assert out.split()[1] == lock_package("uv")["version"], out


def test_later_starts_skip_the_install(fresh_plugin):
    plugin, env, *_ = fresh_plugin
    fs.wait_background(plugin / ".venv")
    launcher = str(plugin / "scripts/mcp-server")
    minimal = (str(plugin / ".venv/bin/python"), [str(ROOT / "bench/_minimal_server.py")])
    ours, base = [], []
    for _ in range(7):  # interleaved pairs: a busy neighbour slows both of a pair alike
        seconds, n, err = fs.time_start(launcher, [], env)
        assert n == 11 and "install" not in err, err
        ours.append(seconds)
        base.append(fs.time_start(*minimal, env)[0])
    ratio = statistics.median(a / b for a, b in zip(ours, base))
    print(f"later starts {statistics.median(ours) * 1000:.0f} ms, minimal {statistics.median(base) * 1000:.0f} ms: "
          f"{ratio:.2f}x (median of 7 interleaved pairs)")
    report(f"later starts {ratio:.2f}x a minimal server: {ours} vs {base}")


def test_first_start_with_uv_on_path_uses_it_and_serves(tmp_path):
    uv_bin = uv()
    plugin = fs.plugin_copy(tmp_path / "plugin")
    env = fs.clean_env(tmp_path, uv_bin)
    seconds, n, err = fs.time_start(str(plugin / "scripts/mcp-server"), [], env)
    try:
        print(f"first start, uv on PATH, empty caches: {seconds:.2f} s\n{err}")
        assert n == 11 and "installed the locked packages" in err and "bootstrapped" not in err, err
        assert not (plugin / ".tools/uv").exists()
        report(f"first start took {seconds:.1f} s")
    finally:
        fs.wait_background(plugin / ".venv")


def test_two_first_starts_at_once_install_once(tmp_path):
    """A client may start the server twice at once (Claude Code's version probe can): one installs, the other
    waits for it, and both serve."""
    plugin = fs.plugin_copy(tmp_path / "plugin")
    env = fs.clean_env(tmp_path, uv())

    async def both():
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(loop.run_in_executor(None, fs.time_start, str(plugin / "scripts/mcp-server"),
                                                           [], env) for _ in range(2)))
    try:
        results = asyncio.run(both())
    finally:
        fs.wait_background(plugin / ".venv")
    assert [n for _, n, _ in results] == [11, 11]
    errs = "".join(err for *_, err in results)
    assert errs.count("installed the locked packages") == 1, errs


def _launch(plugin: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(plugin / "scripts/mcp-server")], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_a_failed_install_says_why_and_how_to_fix_it_on_stderr(tmp_path):
    """PyPI unreachable (a proxy on a closed loopback port), with and without uv; a Python too old."""
    plugin = fs.plugin_copy(tmp_path / "plugin")
    closed = free_port()  # nothing listens there: every connection is refused at once
    offline = {"HTTPS_PROXY": f"http://127.0.0.1:{closed}", "https_proxy": f"http://127.0.0.1:{closed}",
               "UV_HTTP_RETRIES": "0", "PIP_RETRIES": "0", "NO_PROXY": "", "no_proxy": ""}

    r = _launch(plugin, {**fs.clean_env(tmp_path, uv()), **offline})
    assert r.returncode == 1 and r.stdout == "", r.stdout + r.stderr
    assert "could not install its Python environment: installing the locked packages" in r.stderr, r.stderr
    assert "Connection refused" in r.stderr and "Fix: check that PyPI can be reached" in r.stderr, r.stderr
    assert not (plugin / ".venv/.mesh-plugin-installed").exists()

    r = _launch(plugin, {**fs.clean_env(tmp_path, None), **offline})
    assert r.returncode == 1 and r.stdout == "", r.stdout + r.stderr
    assert "downloading uv-0" in r.stderr and "Connection refused" in r.stderr, r.stderr  # the lock's wheel URL
    assert "then installing uv " in r.stderr and "Fix: install uv" in r.stderr, r.stderr  # then pip

    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\necho 3 9\n")
    old.chmod(0o755)
    r = _launch(plugin, {**fs.clean_env(tmp_path, uv()), "MESH_PLUGIN_PYTHON": str(old)})
    assert r.returncode == 1 and r.stdout == ""
    assert "is Python 3.9; mesh-plugin needs 3.11+" in r.stderr and "Fix: set MESH_PLUGIN_PYTHON" in r.stderr, r.stderr

    r = _launch(plugin, {**fs.clean_env(tmp_path, uv()), "MESH_PLUGIN_PYTHON": "no-such-python"})
    assert r.returncode == 1 and "MESH_PLUGIN_PYTHON=no-such-python is not a Python" in r.stderr, r.stderr
    assert "Fix: set MESH_PLUGIN_PYTHON to a Python 3.11+" in r.stderr, r.stderr

    # After the network is back, the next start installs and serves (a failed install leaves nothing half-used).
    seconds, n, err = fs.time_start(str(plugin / "scripts/mcp-server"), [], fs.clean_env(tmp_path, uv()))
    fs.wait_background(plugin / ".venv")
    assert n == 11, err


# --- the wheel ------------------------------------------------------------------------------------------------

def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def code_blocks(section: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", section, re.M | re.S)


def _tools(command: str, args: list[str], env: dict[str, str]) -> int:
    return fs.time_start(command, args, env)[1]


def test_wheel_builds_installs_into_a_fresh_venv_and_serves(tmp_path):
    """`make wheel`, then the README's install commands verbatim (pip, from the lock), then serve to tools/list;
    and the README's Claude Desktop snippet (uvx with the lock) run for real on the same wheel."""
    t0 = time.perf_counter()
    dist = tmp_path / "dist"
    r = subprocess.run(["make", "-s", "--no-print-directory", "wheel", f"DIST={dist}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    wheel = dist / f"mesh_plugin-{VERSION}-py3-none-any.whl"
    assert wheel.exists(), list(dist.iterdir())
    reqs = (dist / "requirements.txt").read_text()
    pinned = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", reqs, re.M))
    assert {k.lower(): v for k, v in pinned.items()} == runtime_closure(here=False) and "--hash=sha256:" in reqs
    built = time.perf_counter() - t0

    section = readme_section("Use it from other MCP clients")
    install = next(b for b in code_blocks(section, "sh") if "pip install" in b)
    home = tmp_path / "home"
    env = fs.clean_env(tmp_path, None, warm_cache=True)
    # A home of its own; pip's cache stays the user's, and no bytecode compile (CPU the test does not need).
    env.update(HOME=str(home), PIP_CACHE_DIR=os.path.expanduser("~/.cache/pip"), PIP_NO_COMPILE="1")
    script = install.replace("dist/", f"{dist}/").replace("~/", f"{home}/")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == f"mesh-plugin {VERSION}", r.stdout[-2000:]
    venv = home / ".local/share/mesh-plugin"
    installed = time.perf_counter() - t0 - built
    where = subprocess.run([str(venv / "bin/python"), "-c", "import mesh_plugin; print(mesh_plugin.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env).stdout
    assert where.startswith(str(venv)), where  # the wheel's copy, not the checkout
    freeze = subprocess.run([str(venv / "bin/python"), "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                            env=env).stdout
    got = {n.lower().replace("_", "-"): v for n, v in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", freeze, re.M)}
    assert {n: got.get(n) for n in runtime_closure()} == runtime_closure()
    # chat from the wheel runs the mesh-engineer prompt, not a fallback (the prompt ships inside the package)
    prompt = subprocess.run([str(venv / "bin/python"), "-c", "from mesh_plugin.agent.chat import system_prompt as p, "
                             "FALLBACK_PROMPT as f; print(p() != f and '503' in p())"], cwd=tmp_path,
                            capture_output=True, text=True, env=env).stdout.strip()
    assert prompt == "True"

    bin_ = str(venv / "bin/mesh-plugin")
    assert _tools(bin_, ["serve"], env) == 11
    assert _tools(bin_, ["serve", "--read-only"], env) == 6
    assert _tools(bin_, ["serve"], {**env, "MESH_PLUGIN_READ_ONLY": "1"}) == 6

    desktop = _servers(section)["Claude Desktop"]
    args = [a.replace("/path/to/mesh-plugin/dist", str(dist)) for a in desktop["args"]]
    uvx = str(Path(uv()).with_name("uvx"))
    n = _tools(uvx, args, {**env, **desktop["env"], "KUBECONFIG": str(tmp_path / "none")})
    assert n == 6  # its --read-only
    print(f"wheel: built in {built:.1f} s, installed with pip from the lock in {installed:.1f} s, "
          f"whole test {time.perf_counter() - t0:.1f} s")


# --- README snippets for other clients -------------------------------------------------------------------------

def _servers(section: str) -> dict[str, dict]:
    """The JSON snippets by client, from the sentence before each block."""
    out = {}
    for m in re.finditer(r"^(.*?)\n\n```json\n(.*?)^```", section, re.M | re.S):
        lead = m.group(1).splitlines()[-1]
        client = next((c for c in ("Claude Desktop", "Cursor", "VS Code") if lead.startswith(c)), None)
        assert client, f"a JSON block without a client named before it: {lead!r}"
        cfg = json.loads(m.group(2))
        servers = cfg["servers"] if client == "VS Code" else cfg["mcpServers"]
        assert list(servers) == ["mesh"], servers
        out[client] = servers["mesh"]
    return out


def _mesh_argv(command: str, args: list[str]) -> list[str]:
    """The mesh-plugin command line inside a client's command: after `mesh-plugin` in uvx's arguments, or all."""
    if Path(command).name == "uvx":
        assert "--from" in args and "mesh-plugin" in args
        return args[args.index("mesh-plugin") + 1:]
    assert Path(command).name == "mesh-plugin", command
    return args


def _accepted(argv: list[str]):
    from mesh_plugin.cli import build_parser

    try:
        return build_parser().parse_args(argv)
    except SystemExit as e:
        raise AssertionError(f"mesh-plugin refuses {argv}") from e


def _env_read_by_the_code(name: str) -> bool:
    src = "\n".join(p.read_text() for p in (ROOT / "src/mesh_plugin").rglob("*.py"))
    return name == "KUBECONFIG" or f'"{name}"' in src


def test_readme_client_snippets_parse_and_their_command_lines_are_accepted():
    section = readme_section("Use it from other MCP clients")
    servers = _servers(section)
    assert set(servers) == {"Claude Desktop", "Cursor", "VS Code"}
    assert servers["VS Code"]["type"] == "stdio"
    seen_env, seen_flags = set(), set()
    for client, s in servers.items():
        argv = _mesh_argv(s["command"], s["args"])
        ns = _accepted(argv)
        assert ns.command == "serve", (client, argv)
        assert all(_env_read_by_the_code(k) for k in s.get("env", {})), (client, s["env"])
        seen_env |= set(s.get("env", {}))
        seen_flags |= {a for a in argv if a.startswith("--")}
    shell = [line for b in code_blocks(section, "sh") for line in b.splitlines() if line.strip()]
    add = next(line for line in shell if line.startswith("claude mcp add "))
    words = shlex.split(add)
    assert _accepted(_mesh_argv(words[words.index("--") + 1], words[words.index("--") + 2:])).command == "serve"
    assert all(_env_read_by_the_code(w.split("=")[0]) for w in words[words.index("--env") + 1:words.index("--")]
               if "=" in w)
    for line in shell:  # the install commands name the wheel make builds
        if "mesh_plugin-" in line:
            assert f"mesh_plugin-{VERSION}-py3-none-any.whl" in line, line
    assert "pipx install" in section and "uv tool install" in section and "uvx" in section
    # Every setting is shown: cluster, context, read-only, Prometheus.
    assert "KUBECONFIG" in seen_env
    assert {"--context"} & seen_flags and "MESH_PLUGIN_CONTEXT" in seen_env
    assert {"--read-only"} & seen_flags and "MESH_PLUGIN_READ_ONLY" in seen_env
    assert {"--prometheus-url"} & seen_flags and "MESH_PLUGIN_PROMETHEUS_URL" in seen_env


def test_the_snippet_check_refuses_a_bad_command_line():
    """The parser check above can fail: a flag mesh-plugin does not have is refused."""
    with pytest.raises(AssertionError):
        _accepted(["serve", "--readonly"])
    assert not _env_read_by_the_code("MESH_PLUGIN_NO_SUCH_SETTING")
