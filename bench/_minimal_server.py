"""A minimal one-tool MCP server on the same SDK: the baseline for bench/cold_start.py."""
from mcp.server.mcpserver import MCPServer

server = MCPServer("minimal")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run("stdio")
