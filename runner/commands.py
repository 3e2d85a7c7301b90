"""What every command shares at its exit."""

import os
import sys


def run_command(main):
    """Exit with ``main()``'s status; a reader that goes away (``| head``) ends it quietly, and
    so does Ctrl-C, with 130 (docs/reference/exit-codes.md)."""
    try:
        sys.exit(main())
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted by SIGINT (Ctrl-C)", file=sys.stderr)
        sys.exit(130)
