"""``python -m trio_zmq._bench``: the benchmark, or (``worker ...``) one of its workers."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        from .workers import worker_main

        worker_main(sys.argv[2:])
    else:
        from .command import main

        sys.exit(main())
