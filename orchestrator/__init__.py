"""strongroom: backup and disaster recovery for self-hosted infrastructure."""

__version__ = "0.1.0"
