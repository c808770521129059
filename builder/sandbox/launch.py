"""Start a compiler confined: `python launch.py POLICY_JSON PROGRAM ARG...`.

Used where the parent is multi-threaded (the builder), so the sandbox cannot be entered
between fork and exec: this small process enters it and then becomes the compiler.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from builder.sandbox.confine import Policy, enter

if __name__ == "__main__":
    enter(Policy.from_json(sys.argv[1]))
    os.execv(sys.argv[2], sys.argv[2:])  # with the (scrubbed) environment it was given
