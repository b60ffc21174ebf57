"""mesh.ambient.WaypointBindingAnalyzer (MESH0606): ``istio.io/use-waypoint`` that istiod refuses.

As istiod resolves it (pilot/pkg/serviceregistry/ambient/waypoints.go ``fetchWaypointForTarget``,
``fetchWaypointForService``, ``fetchWaypointForWorkload``; reasons from status.go): the waypoint does not exist
or has no address yet (``WaypointIsNotReady``), its HBONE listener does not admit the namespace
(``AttachmentDenied``), or it does not take that kind of traffic (``UnsupportedTrafficType``). istiod writes
``istio.io/WaypointBound=False`` on Services (IST0171 in a live cluster) but never on Pods or Namespaces: this
reports all three, from files too. The traffic then skips the waypoint and its L7 policies and routes.
"""
from __future__ import annotations

from ..kube.kinds import KINDS
from ..kube.snapshot import labels_of
from ..mesh import ambient
from .base import Analyzer, Context


class WaypointBindingAnalyzer(Analyzer):
    name = "mesh.ambient.WaypointBindingAnalyzer"
    description = "Flags istio.io/use-waypoint labels istiod refuses: the waypoint is missing or not ready, denies " \
                  "the namespace, or does not take that traffic"
    inputs = ("Namespace", "Service", "Pod", ambient.GATEWAY_KEY,
              *(k for k in ambient.GATEWAY_CLASS_KEYS if k in KINDS))

    def analyze(self, ctx: Context) -> None:
        labelled = [(k, o) for k in ("Namespace", "Service", "Pod") for o in ctx.of(k)
                    if ambient.USE_WAYPOINT in labels_of(o)]
        if not labelled:
            return
        for k in self.inputs:
            ctx.of(k)
        index = ambient.waypoint_index(ctx.snap)
        for kind, obj in labelled:
            if kind == "Namespace":
                name = str((obj.get("metadata") or {}).get("name"))
                wanted, is_none = ambient.use_waypoint(labels_of(obj), name)
                if is_none or not wanted:
                    continue
                w = index.get(wanted)
                if w is None:
                    ctx.report("MESH0606", obj, wanted, "WaypointIsNotReady", f'waypoint "{wanted}" is not ready '
                               "(no Gateway with that name has an address)")
                elif not w.admits(name, labels_of(obj)):
                    ctx.report("MESH0606", obj, wanted, "AttachmentDenied",
                               f"its HBONE listener admits routes from {w.allowed_from} namespaces only")
                continue
            if kind == "Service":
                b = ambient.service_waypoint(ctx.snap, obj, index)
            else:
                b = ambient.workload_waypoint(ctx.snap, obj, index)
            if b.reason and b.source and b.source.startswith(kind):
                ctx.report("MESH0606", obj, b.requested, b.reason, b.message)
