"""Timing whole processes, as a user meets them: the wall clock from spawn to exit, and the peak
RSS of that child alone. Each command is started by bench/spawn.py, a small process in between:
Linux keeps a process's peak RSS across exec, so a child of the benchmark itself would start with
the benchmark's RSS as its peak.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SPAWN = str(Path(__file__).with_name("spawn.py"))


@dataclass(frozen=True)
class Run:
    seconds: float  # wall clock, spawn to exit
    cpu_seconds: float  # user + system: what a loaded machine changes least
    peak_mb: float  # peak resident set size, MiB
    output: str  # stdout and stderr together


def run(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Run:
    """Run ``command`` to its end; raise with its output if it fails."""
    # Output to a file, not a pipe: a chatty child must not stall on a full pipe.
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as result:
        subprocess.run(
            [sys.executable, "-I", "-S", SPAWN, result.name, *command],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            check=True,
        )
        seconds, cpu, peak_kib, code = result.read().split()
        out.seek(0)
        output = out.read().decode(errors="replace")
    if int(code):
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{output[-3000:]}")
    peak_mb = int(peak_kib) / 1024
    return Run(seconds=float(seconds), cpu_seconds=float(cpu), peak_mb=peak_mb, output=output)


def median_run(
    command: Sequence[str],
    *,
    repeats: int,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Run:
    """The median times of ``repeats`` runs, the highest peak RSS, the last run's output."""
    runs = [run(command, env=env, cwd=cwd) for _ in range(repeats)]
    return Run(
        seconds=statistics.median(r.seconds for r in runs),
        cpu_seconds=statistics.median(r.cpu_seconds for r in runs),
        peak_mb=max(r.peak_mb for r in runs),
        output=runs[-1].output,
    )
