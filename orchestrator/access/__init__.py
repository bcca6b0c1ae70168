"""The tools registry, audit and the MCP server."""
