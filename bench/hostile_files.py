"""Large offline inputs (security sweep D11): time and peak RSS of one load, through the real CLI.

    .venv/bin/python bench/hostile_files.py            # 11 MB and 31 MB manifests, a 70 MB dump
    .venv/bin/python bench/hostile_files.py --sizes 11 --src /tmp/before/src   # another checkout's code

Each case writes a file into a temporary folder, then runs ``mesh-plugin workloads -A -f FILE`` (or
``proxy-config cluster -f DUMP``) under ``/usr/bin/time -v`` and prints: the size, the wall time, the
peak RSS, the exit code and the first line of the answer or of the error. The manifests are realistic
objects (``bench.generate``: namespaces, services, pods, VirtualServices, DestinationRules, ...),
with no YAML aliases, as ``kubectl get -o yaml`` or a Helm render would produce them.

Measured on 2 shared cores (issue 17, D11), before (commit 2520cf1: PyYAML's pure-Python SafeLoader, alias
check by walking the loaded documents, no dump cap) and after (the bounded loader on libyaml's events):

    input                          before                                   after
    manifest 11.0 MB (docs)        24.5 s   185 MB  loaded                  2.7 s  178 MB  loaded
    manifest 12.0 MB (List)        69.0 s   959 MB  loaded                  2.2 s  181 MB  loaded
    manifest 31.0 MB (docs)        80.6 s   486 MB  refused "alias bomb"    9.4 s  436 MB  loaded
    manifest 31.7 MB (List)       102.0 s  2564 MB  refused "alias bomb"    6.6 s  419 MB  loaded
    config dump 70 MB              5.1 s   511 MB  answered                0.4 s   37 MB  refused (64 MiB cap)
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.generate import generate  # noqa: E402

BIN = str(Path(sys.executable).parent / "mesh-plugin")


def manifest(megabytes: float, as_list: bool = False) -> str:
    """YAML of about ``megabytes`` MB (the default mesh of bench.generate is ~4.1 MB): one document per
    object, or (``as_list``) one ``kind: List`` document, as ``kubectl get -o yaml`` writes it."""
    f = megabytes / 4.1
    objs = generate(namespaces=int(500 * f), pods=int(5000 * f), services=int(1000 * f),
                    virtualservices=int(2000 * f), destinationrules=int(2000 * f),
                    peerauthentications=int(500 * f), authorizationpolicies=int(500 * f))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    if as_list:
        return yaml.dump({"apiVersion": "v1", "kind": "List", "items": objs}, Dumper=dumper)
    return yaml.dump_all(objs, Dumper=dumper)


def big_dump(megabytes: float) -> str:
    from bench.proxy_config_bench import make_dump

    per = len(json.dumps(make_dump(100))) / 100  # bytes per cluster (with its endpoints and routes)
    return json.dumps(make_dump(int(megabytes * 1e6 / per)))


def measure(argv: list[str], env: dict[str, str]) -> dict:
    r = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, env=env, timeout=1800)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    secs = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            secs = secs * 60 + float(part)
    answer = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip() and not ln.startswith("\t")
              and "Command exited" not in ln]
    return {"seconds": round(secs, 1), "peak_rss_mb": int(rss.group(1)) // 1024 if rss else None,
            "exit": r.returncode, "first_line": (answer[0] if answer else "")[:160]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="*", default=[11, 31], help="manifest sizes in MB")
    ap.add_argument("--forms", nargs="*", default=["docs", "list"], choices=["docs", "list"],
                    help="one document per object, and/or one kind: List document")
    ap.add_argument("--dump-mb", type=float, default=70, help="config dump size in MB (0: skip)")
    ap.add_argument("--src", help="run another checkout's code (PYTHONPATH=SRC), e.g. the code before a fix")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = args.src
    with tempfile.TemporaryDirectory() as tmp:
        for mb in args.sizes:
            for form in args.forms:
                path = Path(tmp) / f"manifest-{mb:g}mb-{form}.yaml"
                path.write_text(manifest(mb, as_list=form == "list"))
                size = path.stat().st_size
                res = measure([sys.executable, "-c", "import sys; from mesh_plugin.cli import main; sys.exit(main())",
                               "workloads", "-A", "--limit", "1", "-f", str(path)], env)
                print(json.dumps({"input": f"manifest {size / 1e6:.1f} MB ({form})", **res}), flush=True)
                path.unlink()
        if args.dump_mb:
            path = Path(tmp) / "dump.json"
            path.write_text(big_dump(args.dump_mb))
            size = path.stat().st_size
            res = measure([sys.executable, "-c", "import sys; from mesh_plugin.cli import main; sys.exit(main())",
                           "proxy-config", "cluster", "--limit", "1", "-f", str(path)], env)
            print(json.dumps({"input": f"config dump {size / 1e6:.1f} MB", **res}), flush=True)


if __name__ == "__main__":
    main()
