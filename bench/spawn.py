"""Run a command and report its wall time and its own peak RSS (used by bench.processes).

    python -I -S bench/spawn.py RESULT_FILE COMMAND...

Why a process in between: Linux keeps a process's peak RSS across exec, and a child forked (or
vforked) from the benchmark starts with the benchmark's own RSS as its peak. Spawned from this small
process instead, the command's peak is its own. Writes "seconds cpu_seconds peak_kib exit_code"
to RESULT_FILE (CPU: user + system time of the command and what it waited for).
"""

import os
import sys
import time


def main() -> None:
    result, *command = sys.argv[1:]
    began = time.perf_counter()
    pid = os.posix_spawnp(command[0], command, os.environ)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - began
    with open(result, "w") as out:
        cpu = usage.ru_utime + usage.ru_stime
        out.write(f"{seconds} {cpu} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}\n")


if __name__ == "__main__":
    main()
