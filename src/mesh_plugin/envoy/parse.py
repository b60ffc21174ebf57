"""Parsers for Envoy admin text formats. Pure."""
from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class HostStatus:
    cluster: str
    endpoint: str
    health_flags: list[str]
    weight: int | None = None

    @property
    def ejected(self) -> bool:
        return "/failed_outlier_check" in self.health_flags or "failed_outlier_check" in self.health_flags

    @property
    def status(self) -> str:
        if not self.health_flags or self.health_flags == ["healthy"]:
            return "HEALTHY"
        if any("failed_active_hc" in f or "failed_eds_health" in f for f in self.health_flags):
            return "UNHEALTHY"
        return "HEALTHY" if self.ejected else "UNHEALTHY"


def parse_clusters_text(text: str) -> list[HostStatus]:
    """``/clusters`` (text): one HostStatus per cluster::host."""
    hosts: dict[tuple[str, str], HostStatus] = {}
    for line in text.splitlines():
        parts = line.split("::")
        if len(parts) < 4:
            continue
        cluster, endpoint, key, value = parts[0], parts[1], parts[2], "::".join(parts[3:])
        if ":" not in endpoint or endpoint.startswith(("default_priority", "high_priority")):
            continue
        h = hosts.setdefault((cluster, endpoint), HostStatus(cluster, endpoint, []))
        if key == "health_flags":
            h.health_flags = [f for f in value.split("|") if f]
        elif key == "weight":
            h.weight = int(value) if value.isdigit() else None
    return list(hosts.values())


def parse_server_info(body: bytes) -> dict:
    try:
        info = json.loads(body)
    except ValueError:
        return {}
    version = str(info.get("version", ""))
    parts = version.split("/")
    return {"version": parts[1] if len(parts) > 1 else version, "state": info.get("state"),
            "uptime": info.get("uptime_current_epoch"), "build": version}
