"""`streamscore demo` refuses bad arguments with one line, before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamscore.cli import main


def test_a_frame_file_in_a_missing_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--frame", str(tmp_path / "missing" / "frame.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"streamscore demo: error: --frame: no folder {tmp_path / 'missing'}"]
    assert not (tmp_path / "missing").exists()
