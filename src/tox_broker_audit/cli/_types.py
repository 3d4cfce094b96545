"""Argument types of the command line: a bad value is argparse's one-line usage error (exit 2)."""

from __future__ import annotations

import argparse
import math

__all__ = ["seconds"]


def seconds(text: str) -> float:
    """A time-out: a finite number of seconds greater than 0 (not ``nan``, ``inf``, ``1e400``)."""
    try:
        value = float(text)
    except ValueError:
        msg = f"{text!r} is not a number of seconds"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value) or value <= 0:
        msg = f"{text!r} must be a finite number of seconds greater than 0"
        raise argparse.ArgumentTypeError(msg)
    return value
