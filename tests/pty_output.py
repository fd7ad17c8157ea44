"""Reading what a child process wrote to a pseudo-terminal (for tests of terminal output)."""

from __future__ import annotations

import os


def read_until_closed(leader: int) -> bytes:
    """Everything written to the terminal whose leader end is ``leader``, until the child
    closes it; then closes ``leader``."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks)
