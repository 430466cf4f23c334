"""The deployment examples in deploy/ are well-formed and call the README's command."""

import shutil
import subprocess
from pathlib import Path

import pytest

DEPLOY = Path(__file__).parents[2] / "deploy"
COMMAND = "make fill REGION="


def test_the_systemd_units_verify():
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    units = [str(DEPLOY / "stimpute-fill.service"), str(DEPLOY / "stimpute-fill.timer")]
    res = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True
    )
    problems = [
        line
        for line in res.stderr.splitlines()
        if "stimpute-fill" in line
        and "WorkingDirectory" not in line  # /opt/stimpute is a placeholder
    ]
    assert res.returncode == 0 or not problems, res.stderr
    assert not problems, problems


def test_the_units_run_the_readme_command_and_treat_a_held_lock_as_a_retry():
    service = (DEPLOY / "stimpute-fill.service").read_text()
    assert f"ExecStart=/usr/bin/{COMMAND}" in service and "SuccessExitStatus=75" in service
    assert "KillSignal=SIGTERM" in service
    timer = (DEPLOY / "stimpute-fill.timer").read_text()
    assert "Persistent=true" in timer and "OnCalendar=" in timer
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert COMMAND in readme


def test_the_cron_line_is_five_fields_and_the_command():
    lines = [
        line
        for line in (DEPLOY / "crontab").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    for field in fields[:5]:
        assert all(c.isdigit() or c in "*/,-" for c in field), field
    assert COMMAND in fields[5]
