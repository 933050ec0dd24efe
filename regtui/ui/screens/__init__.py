"""The screens of the TUI: start, main (the browser), raw JSON and help."""
