"""Backup sets: naming, manifest, layout, make, restore, sync, compare, verify."""
