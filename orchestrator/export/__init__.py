"""Exports: a backup set as ZIP, tar.gz or tar.xz (optionally encrypted), and back
(restore-backup --from-archive, path-safe unpacking).

May import sets and everything below it; never schedule, access or cli.
"""
