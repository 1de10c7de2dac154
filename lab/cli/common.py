"""What every `lab` subcommand module shares: how it talks, and which lab it means."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Progress and notes go to stderr, prefixed, so stdout stays the command's answer."""
    print(f"lab: {message}", file=sys.stderr, flush=True)


def stack_of(args, **kwargs):
    """The Stack of the configuration `lab --config FILE` (or discovery) names."""
    from lab.config.discovery import load_config
    from lab.stack.lifecycle import Stack

    return Stack(config=load_config(file=args.config), **kwargs)
