"""Exports: a backup set as ZIP, tar.gz or tar.xz (optionally encrypted), and back."""
