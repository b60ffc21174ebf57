"""A real Prometheus (Debian's package) on 127.0.0.1, seeded with history via promtool's OpenMetrics import."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest


def binaries() -> tuple[str, str]:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not tool:
        if os.environ.get("CI"):
            pytest.fail("prometheus/promtool missing: `make test` installs Debian's prometheus package")
        pytest.skip("prometheus not installed (make prometheus)")
    return prom, tool


def counter_series(name: str, labels: dict[str, str], rate_per_s: float, end: float, hours: float = 2.0,
                   step: int = 15) -> list[str]:
    lbl = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    start = end - hours * 3600
    out, t, v = [], start, 0.0
    while t <= end:
        out.append(f"{name}{{{lbl}}} {v:.1f} {t:.3f}")
        t += step
        v += rate_per_s * step
    return out


class PromServer:
    def __init__(self, families: dict[str, tuple[str, list[str]]]) -> None:
        prom, tool = binaries()
        self.dir = tempfile.mkdtemp(prefix="prom-")
        om = os.path.join(self.dir, "seed.om")
        with open(om, "w") as fh:
            for family, (typ, lines) in families.items():
                fh.write(f"# TYPE {family} {typ}\n")
                fh.write("\n".join(lines) + "\n")
            fh.write("# EOF\n")
        data = os.path.join(self.dir, "data")
        r = subprocess.run([tool, "tsdb", "create-blocks-from", "openmetrics", om, data], capture_output=True,
                           text=True, timeout=120)
        if r.returncode:
            raise RuntimeError(f"promtool failed: {r.stderr[-2000:]}")
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as fh:
            fh.write("global:\n  scrape_interval: 1h\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                                      f"--web.listen-address=127.0.0.1:{self.port}",
                                      "--storage.tsdb.retention.time=3650d", "--log.level=warn"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "w"))
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("prometheus did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
