"""Tools: typed functions over the mesh logic, registered once for every surface."""
from .registry import REGISTRY, ToolDef, get_tool, load_tools, tool

__all__ = ["REGISTRY", "ToolDef", "get_tool", "load_tools", "tool"]
