"""How gradscribe writes files: modes from the umask, nothing clobbered, links and devices
respected, atomic (nothing partial, no temporary file) even when killed."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from gradscribe.codegen.stamp import provenance, stamp

from gradscribe.cli import files

NET = "2-3-1:tanh,identity:mse"
OTHER = "3-2-1:relu,sigmoid:binary_cross_entropy"


@pytest.fixture
def umask():
    """Set the process umask for one test, restoring it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda value: os.umask(value)
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------------------ modes


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, cli, umask, mask, expected):
    umask(mask)
    for command, name in (("codegen", "k.py"), ("derive", "d.tex")):
        target = tmp_path / name
        status, _, err = cli(command, NET, "-o", str(target))
        assert status == 0, err
        assert mode(target) == expected, (command, oct(mode(target)))


@pytest.mark.parametrize("kept", [0o600, 0o640, 0o755, 0o444])
def test_a_replaced_file_keeps_its_mode(tmp_path, cli, umask, kept):
    umask(0o022)
    target = tmp_path / "k.py"
    assert cli("codegen", NET, "-o", str(target))[0] == 0
    os.chmod(target, kept)
    status, _, err = cli("codegen", OTHER, "-o", str(target))
    assert status == 0, err
    assert mode(target) == kept
    assert "Network: 3-2-1:relu,sigmoid:binary_cross_entropy:column" in target.read_text()


def test_the_default_job_creates_its_folder_and_overwrites_its_own_outputs(tmp_path, cli, umask):
    umask(0o022)
    out = tmp_path / "nested" / "gradscribe-out"
    out.mkdir(parents=True)
    # earlier outputs of gradscribe (another network), one of them made private by its owner
    assert cli("derive", NET, "-o", str(out / "derivation.tex"))[0] == 0
    assert cli("derive", NET, "--format", "md", "-o", str(out / "derivation.md"))[0] == 0
    assert cli("codegen", NET, "-o", str(out / "height_mlp.py"))[0] == 0
    os.chmod(out / "height_mlp.py", 0o600)
    status, stdout, err = cli("--out", str(out))
    assert status == 0, err
    assert "height_mlp" in (out / "height_mlp.py").read_text().split("\n", 1)[0]
    assert mode(out / "height_mlp.py") == 0o600 and mode(out / "derivation.md") == 0o644
    assert only_files(out) == ["derivation.md", "derivation.tex", "height_mlp.py", "height_mlp_textbook.py"]


def test_the_default_job_refuses_a_foreign_file_before_writing_anything(tmp_path, cli):
    out = tmp_path / "gradscribe-out"
    out.mkdir()
    (out / "derivation.md").write_text("my notes\n")
    status, stdout, err = cli("--out", str(out))
    assert status == 1 and stdout == ""
    assert one_line(err).startswith(f"gradscribe: {out / 'derivation.md'} was not written by gradscribe")
    assert (out / "derivation.md").read_text() == "my notes\n"
    assert only_files(out) == ["derivation.md"]


# ------------------------------------------------------------------------ clobbering


@pytest.mark.parametrize("command", ["codegen", "derive"])
def test_a_foreign_file_survives_without_force(tmp_path, cli, command):
    target = tmp_path / "mine.py"
    target.write_text("print('my own code')\n")
    status, out, err = cli(command, NET, "-o", str(target))
    assert status == 1 and out == ""
    assert one_line(err) == (
        f"gradscribe: {target} was not written by gradscribe (its header has no body sha256); "
        "not overwritten (--force overwrites it)\n"
    )
    assert target.read_text() == "print('my own code')\n"
    status, _, err = cli(command, NET, "-o", str(target), "--force")
    assert status == 0, err
    assert provenance(target.read_bytes()) == "generated"


@pytest.mark.parametrize("command", ["codegen", "derive"])
def test_a_hand_edited_generated_file_survives_without_force(tmp_path, cli, command):
    target = tmp_path / "out.txt"
    assert cli(command, NET, "-o", str(target))[0] == 0
    assert provenance(target.read_bytes()) == "generated"
    edited = target.read_text().replace("\n\n", "\n\n% my note\n", 1)
    target.write_text(edited)
    assert provenance(target.read_bytes()) == "edited"
    status, _, err = cli(command, OTHER, "-o", str(target))
    assert status == 1
    assert f"{target} was edited after gradscribe wrote it" in one_line(err)
    assert target.read_text() == edited
    assert cli(command, OTHER, "-o", str(target), "--force")[0] == 0
    assert "3-2-1:relu,sigmoid" in target.read_text()


def test_an_unedited_generated_file_and_an_empty_file_are_overwritten(tmp_path, cli):
    target = tmp_path / "k.py"
    assert cli("codegen", NET, "-o", str(target))[0] == 0
    assert cli("codegen", OTHER, "-o", str(target))[0] == 0
    assert "3-2-1:relu,sigmoid" in target.read_text()
    empty = tmp_path / "made_by_mktemp"
    empty.touch()
    assert cli("codegen", NET, "-o", str(empty))[0] == 0
    assert "2-3-1:tanh,identity" in empty.read_text()


def test_the_stamp_records_the_body_hash_in_every_kind_of_output(tmp_path, cli):
    for args, prefix in ((["codegen"], "Body sha256: "), (["derive"], "% Body sha256: "),
                         (["derive", "--format", "md"], "<!-- Body sha256: ")):
        status, out, _ = cli(*args, NET)
        assert status == 0
        header = out.split("\n")[:12]
        stamp_lines = [line for line in header if line.startswith(prefix)]
        assert len(stamp_lines) == 1, header
        line = stamp_lines[0]
        body = out.replace(line + "\n", "", 1).encode()
        assert hashlib.sha256(body).hexdigest() in line
        assert provenance(out.encode()) == "generated"
        assert provenance(out.replace("np.", "numpy.", 1).replace("Back", "back", 1).encode()) == "edited"
    assert provenance(b"print(1)\n") == "foreign"
    assert provenance(b"") == "empty"
    assert stamp("x\n").startswith("# Body sha256: ")


# ---------------------------------------------------------------- links and devices


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path, cli):
    real = tmp_path / "real.py"
    link = tmp_path / "link.py"
    assert cli("codegen", NET, "-o", str(real))[0] == 0
    link.symlink_to("real.py")
    status, _, err = cli("codegen", OTHER, "-o", str(link))
    assert status == 0, err
    assert link.is_symlink() and os.readlink(link) == "real.py"
    assert "3-2-1:relu,sigmoid" in real.read_text()
    assert only_files(tmp_path) == ["link.py", "real.py"]
    dangling = tmp_path / "new_link.py"
    dangling.symlink_to("target_to_be.py")
    assert cli("codegen", NET, "-o", str(dangling))[0] == 0
    assert dangling.is_symlink() and "2-3-1:tanh" in (tmp_path / "target_to_be.py").read_text()


def test_a_symlink_to_a_foreign_file_is_refused(tmp_path, cli):
    real = tmp_path / "notes.txt"
    real.write_text("notes\n")
    (tmp_path / "link.py").symlink_to(real)
    status, _, err = cli("codegen", NET, "-o", str(tmp_path / "link.py"))
    assert status == 1 and "link.py was not written by gradscribe" in one_line(err)
    assert real.read_text() == "notes\n"


def test_a_hard_linked_target_keeps_its_links(tmp_path, cli):
    first = tmp_path / "a.py"
    second = tmp_path / "b.py"
    assert cli("codegen", NET, "-o", str(first))[0] == 0
    os.chmod(first, 0o640)
    os.link(first, second)
    inode = os.stat(first).st_ino
    status, _, err = cli("codegen", OTHER, "-o", str(second))
    assert status == 0, err
    assert os.stat(first).st_ino == os.stat(second).st_ino == inode
    assert os.stat(first).st_nlink == 2 and mode(first) == 0o640
    assert first.read_text() == second.read_text()
    assert "3-2-1:relu,sigmoid" in first.read_text()
    assert only_files(tmp_path) == ["a.py", "b.py"]
    # a shorter text truncates: the file holds exactly the new module
    status, out, _ = cli("codegen", "1-1:identity:mse")
    assert cli("codegen", "1-1:identity:mse", "-o", str(first))[0] == 0
    assert second.read_text() == out


def test_dev_null_stays_a_device(cli):
    before = os.stat("/dev/null")
    assert stat.S_ISCHR(before.st_mode)
    for command in ("codegen", "derive"):
        status, out, err = cli(command, NET, "-o", "/dev/null")
        assert status == 0 and out == "", err
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


def test_a_fifo_is_written_to_not_replaced(tmp_path, cli):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    status, _, err = cli("codegen", NET, "-o", str(fifo))
    reader.join(timeout=30)
    assert status == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0] == cli("codegen", NET)[1]


def test_dash_is_stdout(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = cli("codegen", NET, "-o", "-")
    assert status == 0 and out.startswith('"""Forward and backward passes')
    assert only_files(tmp_path) == []


# --------------------------------------------------------------------------- errors


def test_a_missing_folder_is_exit_2_and_not_created(tmp_path, cli):
    target = tmp_path / "no" / "such" / "k.py"
    status, _, err = cli("codegen", NET, "-o", str(target))
    assert status == 2
    assert one_line(err) == f"gradscribe: error: {target}: no such folder {target.parent}\n"
    assert only_files(tmp_path) == []


def test_a_folder_or_a_path_through_a_file_is_exit_2_naming_the_users_path(tmp_path, cli):
    status, _, err = cli("codegen", NET, "-o", str(tmp_path))
    assert status == 2 and one_line(err) == f"gradscribe: error: {tmp_path}: is a folder, not a file\n"
    (tmp_path / "file").write_text("x")
    status, _, err = cli("codegen", NET, "-o", str(tmp_path / "file" / "k.py"))
    assert status == 2 and one_line(err) == f"gradscribe: error: {tmp_path / 'file' / 'k.py'}: Not a directory\n"


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named-temporary"])
@pytest.mark.parametrize("exists", [True, False], ids=["replace", "create"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, cli, monkeypatch, unnamed, exists):
    if not unnamed:
        monkeypatch.setattr(files, "_open_unnamed", lambda folder: None)
    target = tmp_path / "k.py"
    if exists:
        assert cli("codegen", NET, "-o", str(target))[0] == 0
    old = target.read_bytes() if exists else None
    seen = []

    def full_disk(fd, data):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device", seen[-1])

    monkeypatch.setattr(files, "_write_all", full_disk)
    status, _, err = cli("codegen", OTHER, "-o", str(target))
    assert status == 2
    assert one_line(err) == f"gradscribe: error: {target}: No space left on device\n"
    assert ".tmp" not in err and "tmpfile" not in err.lower()
    assert (target.read_bytes() if exists else None) == old
    assert only_files(tmp_path) == (["k.py"] if exists else [])
    assert seen  # the failure happened mid-write


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named-temporary"])
def test_ctrl_c_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, cli, monkeypatch, unnamed):
    if not unnamed:
        monkeypatch.setattr(files, "_open_unnamed", lambda folder: None)
    target = tmp_path / "k.py"
    assert cli("codegen", NET, "-o", str(target))[0] == 0
    old = target.read_bytes()

    def interrupted(fd, data):
        os.write(fd, data[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_write_all", interrupted)
    status, _, _ = cli("codegen", OTHER, "-o", str(target))
    assert status == 130
    assert target.read_bytes() == old and only_files(tmp_path) == ["k.py"]


def test_a_failure_rewriting_a_hard_linked_file_puts_the_old_bytes_back(tmp_path, cli, monkeypatch):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    assert cli("codegen", OTHER, "-o", str(first))[0] == 0
    os.link(first, second)
    old = first.read_bytes()
    real_write = files._write_all
    calls = []

    def fails_once(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            os.write(fd, data[:50])
            raise KeyboardInterrupt
        real_write(fd, data)

    monkeypatch.setattr(files, "_write_all", fails_once)
    status, _, _ = cli("codegen", "1-1:identity:mse", "-o", str(second))
    assert status == 130 and len(calls) == 2
    assert first.read_bytes() == old == second.read_bytes()
    assert os.stat(first).st_nlink == 2 and only_files(tmp_path) == ["a.py", "b.py"]


# ------------------------------------------------------------------- killed mid-write

KILLED_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from gradscribe.cli import files, main

    if sys.argv[1] == "named":
        files._open_unnamed = lambda folder: None

    def stalls(fd, data):
        os.write(fd, data[: len(data) // 2])
        print("half written", flush=True)
        time.sleep(60)

    files._write_all = stalls
    main(sys.argv[2:])
    """
)


@pytest.mark.parametrize("exists", [True, False], ids=["replace", "create"])
def test_a_run_killed_mid_write_leaves_no_partial_and_no_temporary(tmp_path, exists):
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "k.py"
    if exists:
        assert subprocess.run(
            [sys.executable, "-m", "gradscribe", "codegen", NET, "-o", str(target)], check=True
        ).returncode == 0
    old = target.read_bytes() if exists else None
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, "unnamed", "codegen", OTHER, "-o", str(target)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline() == "half written\n"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert only_files(folder) == (["k.py"] if exists else [])
    assert (target.read_bytes() if exists else None) == old


def test_impossible_and_overlong_paths_are_one_line(tmp_path, cli):
    for args in (["codegen", NET, "-o", "x\x00y.py"], ["--out", "out\x00"]):
        status, _, err = cli(*args)
        assert status == 2 and "not a possible" in one_line(err) and "\\x00" in err
    status, _, err = cli("codegen", NET, "-o", str(tmp_path / ("a" * 5000)))
    assert status == 2 and "File name too long" in one_line(err) and len(err) < 300


def test_a_pipe_closed_by_its_reader_is_one_line(tmp_path):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gradscribe", "codegen", NET], stdout=write_end,
            stderr=subprocess.PIPE, text=True, timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 2
    assert result.stderr == (
        "gradscribe: error: stdout: the reader closed the pipe before the output was written\n"
    )
