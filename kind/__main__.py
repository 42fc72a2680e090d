"""``python -m kind …`` runs the ``kind`` command (what ``torchrun -m kind`` needs)."""

import sys

from kind.cli import main

sys.exit(main())
