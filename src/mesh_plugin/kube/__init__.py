"""Cluster access: one client, resource kinds as data, and Snapshots (live or from files)."""
from .client import KubeClient
from .kinds import ALL_KINDS, KINDS, Kind, get_kind, kind_for
from .snapshot import LoadError, Snapshot, annotations_of, labels_of, name_of, ns_of

__all__ = [
    "ALL_KINDS", "KINDS", "Kind", "KubeClient", "LoadError", "Snapshot",
    "annotations_of", "get_kind", "kind_for", "labels_of", "name_of", "ns_of",
]
