"""Who may do what, and the two ways in that share it.

Owns the tools registry (tools.py: one entry per tool, its request model, the
operation behind it, whether it is audited or locked; roles and path limits are
checked in `invoke`), the hash-chained audit log (audit.py) and the MCP server
(mcp.py, a face like the CLI).

tools.py and audit.py may import the operations (sets, export, schedule) and
everything below them; mcp.py may import tools.py. Nothing here imports cli.
"""
