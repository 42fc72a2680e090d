"""Run ``kind`` under torchrun with one rank's training step raising (tests of distributed runs).

    torchrun ... tests/helpers/failing_rank.py RANK STEP kind-args...
"""

import dataclasses
import os
import sys

from kind.cli import main
from kind.train import stages

failing_rank, failing_step = int(sys.argv[1]), int(sys.argv[2])
stage = stages.STAGES["decom"]
calls = {"n": 0}


def loss(model, batch, config, wanted):
    calls["n"] += 1
    if int(os.environ["RANK"]) == failing_rank and calls["n"] == failing_step:
        raise RuntimeError(f"injected failure on rank {failing_rank} at step {failing_step}")
    return stage.loss(model, batch, config, wanted)


stages.STAGES["decom"] = dataclasses.replace(stage, loss=loss)
sys.exit(main(sys.argv[3:]))
