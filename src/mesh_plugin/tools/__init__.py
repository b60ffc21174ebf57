"""Tools: typed operations over the mesh logic, grouped into the few MCP tools a model sees."""
from .registry import REGISTRY, TOOLS, Operation, ToolDef, get_tool, load_operations, load_tools, op

__all__ = ["REGISTRY", "TOOLS", "Operation", "ToolDef", "get_tool", "load_operations", "load_tools", "op"]
