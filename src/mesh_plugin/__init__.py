"""mesh-plugin: a service-mesh copilot for Istio and Linkerd (MCP server, CLI, agent)."""
__version__ = "0.2.0"
