"""The harness's process handling: a failed start is reported with its log, nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from kafkaops.harness.procs import HarnessError, Service

pytestmark = [pytest.mark.integration, pytest.mark.lifecycle]


def test_a_component_that_dies_fails_the_start_with_its_log(tmp_path):
    service = Service("broken", ["sh", "-c", "echo cannot bind port; exit 3"], tmp_path / "broken.log")
    with pytest.raises(HarnessError) as error:
        service.wait_until(lambda: False, timeout=10)
    service.stop()
    assert "exited with 3" in str(error.value) and "cannot bind port" in str(error.value)


def test_a_component_that_never_gets_ready_times_out_with_its_log(tmp_path):
    service = Service("slow", ["sh", "-c", "echo still starting; sleep 30"], tmp_path / "slow.log")
    try:
        with pytest.raises(HarnessError) as error:
            service.wait_until(lambda: False, timeout=1)
        assert "not ready after 1s" in str(error.value)
    finally:
        service.stop()
    assert not service.alive()


def test_children_die_with_the_harness_even_when_it_is_killed(tmp_path):
    """PR_SET_PDEATHSIG: a SIGKILLed harness (no finally, no atexit) still leaves nothing behind."""
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, signal, time
        from pathlib import Path
        from kafkaops.harness.procs import Service
        # Written whole, then renamed: the file exists only once it holds the pid (the redirection alone
        # creates it empty first, and a poll that saw it then read '').
        write = "echo $$ > {pid_file}.part && mv {pid_file}.part {pid_file}"
        s = Service("sleeper", ["sh", "-c", write + "; exec sleep 60"], Path("{tmp_path}/s.log"))
        while not Path("{pid_file}").exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], check=False, timeout=30)
    child = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"child {child} outlived the killed harness")
