"""Entry point of a tuning worker process: `python -m onnxjit.schedules.worker IN OUT TARGET N`."""
from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from onnxjit.schedules.measure import TargetSpec, serve

if __name__ == "__main__":
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False),
          TargetSpec(sys.argv[3], int(sys.argv[4])))
