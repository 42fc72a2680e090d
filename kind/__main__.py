"""``python -m kind …`` runs the ``kind`` command (what ``torchrun -m kind`` needs)."""

import os
import sys

from kind.cli import main

if "TORCHELASTIC_RUN_ID" in os.environ:  # under torchrun: a failing rank's error is reported by the launcher
    from torch.distributed.elastic.multiprocessing.errors import record

    main = record(main)

sys.exit(main())
