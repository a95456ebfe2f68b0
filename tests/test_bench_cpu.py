"""The benchmark counts a server's CPU time over every process of its tree: the children it
runs, and those that have ended since, whatever the server's make-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from bench.run import cpu_seconds

BURN_S = 0.3
BURN = f"import time\nend = time.process_time() + {BURN_S}\nwhile time.process_time() < end: pass\n"
# A server's stand-in: it runs one child to its end, then starts another and keeps it running.
PARENT = f"""
import subprocess, sys, time
burn = {BURN!r}
subprocess.run([sys.executable, "-c", burn], check=True)
child = subprocess.Popen(
    [sys.executable, "-c", burn + "print('burnt', flush=True)\\ntime.sleep(60)"],
    stdout=subprocess.PIPE,
)
child.stdout.readline()
print("burnt", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the benchmark reads /proc")
def test_cpu_time_counts_children_running_and_ended() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        before = cpu_seconds(parent.pid)
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "burnt"

        used = cpu_seconds(parent.pid) - before

        assert used >= 2 * BURN_S
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
