"""`python -m onnxjit ...` runs the command-line tool."""
from __future__ import annotations

import sys

from onnxjit.cli import main

sys.exit(main())
