"""UI-free core of regtui: references, manifests, the registry client, auth and the pull engine.

Nothing in this package may import Textual (a test enforces it), so the CLI, the TUI and
scripts share one implementation of the registry protocol.
"""
