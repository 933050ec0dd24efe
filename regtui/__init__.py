"""regtui: a terminal UI for container registries."""

__version__ = "0.1.0"
