"""The panes and panels of the main screen, one widget per module."""
