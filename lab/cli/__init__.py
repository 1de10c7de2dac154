"""The `lab` command: one module per command group (`main` holds the parser and the
lifecycle commands, `ad`, `scenarios`, `faults`, `project` the others; `common`
what they share). The top of the tree: nothing imports it.
"""
