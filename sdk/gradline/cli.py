"""The `gradline` command."""

import sys


def main(argv=None) -> int:
    print("gradline CLI: login | sync | runs | status", file=sys.stderr)
    return 0
