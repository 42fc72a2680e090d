"""``python -m kind …`` runs the ``kind`` command (what ``torchrun -m kind`` needs).

Under torchrun a rank that has finished its command leaves with ``os._exit`` once its output is
flushed. torch's gloo process group can keep a worker thread that still releases Python objects
while the interpreter shuts down; the rank then aborts ("terminate called without an active
exception", SIGABRT) after all its work is done, and torchrun reports the whole job as failed —
about one run in twenty with torch 2.14 on a 2-core CPU, also in a bare DDP script. Skipping the
shutdown avoids it; every file the command writes is closed before the command returns.
"""

import os
import sys

from kind.cli import main

if "TORCHELASTIC_RUN_ID" in os.environ:  # under torchrun: a failing rank's error is reported by the launcher
    from torch.distributed.elastic.multiprocessing.errors import record

    status = record(main)()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status or 0)

sys.exit(main())
