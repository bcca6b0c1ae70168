"""The profile: schema, loading, locating, discovery, edits, lock."""
