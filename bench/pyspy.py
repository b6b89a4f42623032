"""py-spy on a running process, summed to the frames that cost: what `bench/lag.py --profile` prints.

py-spy's raw format is one line per distinct stack (``frame;frame;...;leaf count``); the share of a
function is the fraction of samples whose stack contains it (inclusive) or ends in it (self).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


class Profiler:
    """``py-spy record --format raw`` on ``pid`` until ``stop()``, written to ``path``."""

    def __init__(self, pid: int, path: Path, rate: int = 100) -> None:
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if spy is None:
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.path = path
        # --nonblocking: pausing the process for every sample would inflate the very cycle being measured.
        self.proc = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate),
                                      "--nonblocking", "--nolineno", "--output", str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def frame_shares(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, inclusive samples per frame, self samples per frame) of a raw py-spy file; a frame
    is ``function (file)`` (recorded with --nolineno, so one function is one row)."""
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return total, inclusive, own


def report(path: Path, top: int = 15) -> str:
    """The ``top`` frames by self time and by inclusive time, with their share of all samples."""
    total, inclusive, own = frame_shares(path)
    if not total:
        return f"profile {path}: no samples"
    lines = [f"profile {path}: {total} samples (idle threads excluded)", "  self:"]
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  inclusive (kafkaops frames):")
    ours = [(f, n) for f, n in inclusive.most_common() if "kafkaops" in f]
    lines += [f"    {100 * n / total:5.1f}%  {frame}" for frame, n in ours[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
