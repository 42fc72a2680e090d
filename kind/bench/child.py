"""The measuring child of ``kind bench``: one fresh process that enhances one photo as ``kind
enhance`` does (the process settings, the model, decode, stretch, networks — tiled above 2.5 MP —
encode) and prints its peak resident memory (MB) and wall seconds.

    python -m kind.bench.child PHOTO OUTDIR DEVICE PRECISION [WEIGHTS]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB: VmHWM (fresh at exec, unlike ru_maxrss, which a
    child started by fork + exec inherits from its parent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def enhance_one(photo: str, out_dir: str, device: str, precision: str, weights: str | None = None) -> None:
    """``kind enhance PHOTO -o OUTDIR --device DEVICE --precision PRECISION [--weights WEIGHTS]``,
    through the same library calls; raises RuntimeError when the photo fails."""
    from kind.api import KinD
    from kind.enhance import enhance_files
    from kind.tuning import tune_process

    tune_process()
    summary = enhance_files([photo], out_dir, KinD.from_pretrained(weights, device, precision), progress=False)
    if summary.failed:
        raise RuntimeError(summary.report())


def main(argv: list[str]) -> None:
    if len(argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[-1].strip())
    start = time.perf_counter()
    enhance_one(*argv)
    print(peak_memory_mb(), time.perf_counter() - start)


if __name__ == "__main__":
    main(sys.argv[1:])
