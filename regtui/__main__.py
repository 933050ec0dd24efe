"""Allow ``python -m regtui``."""

from regtui.cli import run

run()
