"""`mesh-plugin chat`: the mesh-engineer prompt and the tool registry, on the Anthropic Messages API."""
from .chat import ChatSession, run_chat

__all__ = ["ChatSession", "run_chat"]
