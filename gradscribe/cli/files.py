"""Writing output files: atomically, in the file's own mode, through links, never over a file
gradscribe did not write.

`write_output(target, text, force=False)` is how every command writes:

- `-` is stdout. A character device (`/dev/null`) or a FIFO is opened and written to directly,
  never renamed over; a folder, block device or socket is bad input.
- A symbolic link is followed: its target is written and the link stays a link.
- An existing file is overwritten only when gradscribe wrote it and nobody changed it since
  (its header's body sha256 matches, see `gradscribe.codegen.stamp`) or when it is empty; anything else is
  `Refused` (exit 1) unless `force`.
- A new file gets mode 0666 minus the umask (0644 under umask 022), like any other tool's; a
  replaced file keeps its mode (and owner and group, where the user may set them).
- A regular file is replaced atomically: the text goes to an unnamed temporary file in the same
  folder (Linux's O_TMPFILE), which is then linked into place by a rename. A failure, Ctrl-C or
  SIGKILL leaves the old file whole and no temporary file behind. Where the file system has no
  O_TMPFILE the temporary file is a hidden `.NAME.XXXXXXXX.tmp`, removed on any failure Python
  sees (only a SIGKILL in the middle can leave it).
- A file with more than one hard link is rewritten in place, so that every link sees the new
  text (a rename would leave the other links on the old text): its space is reserved first
  (so a full disk fails before anything changes), and any failure Python sees, Ctrl-C
  included, puts the old bytes back. Only a SIGKILL or a crash during those writes can leave it
  partly written; that is the price of keeping the links.
- A missing parent folder is bad input (exit 2), never created here. Every error names the
  path the user gave, never a temporary one.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import secrets
import stat
import sys
from pathlib import Path

from ..codegen.stamp import provenance
from ..derive.errors import show_path
from .errors import Refused, UsageError

STDOUT = "-"
CHUNK = 1 << 20  # bytes per write(2)
MAX_INSPECTED = 64 << 20  # an existing file larger than this is not one gradscribe wrote


def write_output(target: str | os.PathLike, text: str, *, force: bool = False) -> None:
    """Write `text` to `target` (a path or "-") as the module docstring describes."""
    if os.fspath(target) == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = text.encode("utf-8")
    shown = show_path(target)
    with _naming(shown):
        kind, real, info, old = _plan(Path(target), force, shown)
        if kind == "device":
            _write_device(real, data)
        elif kind == "new":
            _replace(real, data, None)
        elif info.st_nlink > 1:
            _rewrite_in_place(real, data, old, shown)
        else:
            _replace(real, data, info)


def check_destination(target: str | os.PathLike, *, force: bool = False) -> None:
    """Raise now what `write_output(target, ...)` would raise before writing anything (a missing
    folder, a file it may not overwrite), so a long rendering is not spent in vain."""
    if os.fspath(target) == STDOUT:
        return
    shown = show_path(target)
    with _naming(shown):
        _plan(Path(target), force, shown)


class _naming:
    """Turn an OSError into a UsageError naming the user's path (never a temporary one)."""

    def __init__(self, shown: str):
        self.shown = shown

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if isinstance(exc, OSError):
            raise UsageError(f"{self.shown}: {exc.strerror or type(exc).__name__}") from None
        if isinstance(exc, ValueError):  # a NUL character in the path
            raise UsageError(f"{self.shown}: not a possible file name") from None
        return False


def _plan(path: Path, force: bool, shown: str):
    """(kind, the path to write, its stat or None, its bytes or None): kind is "new",
    "device" or "file"; raises for what may not be written."""
    try:
        info = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        info = None
    if info is None:
        real = Path(os.path.realpath(path))  # a dangling link: the file it names
        if not real.parent.is_dir():
            folder = real.parent if os.path.islink(path) else path.parent
            raise UsageError(f"{shown}: no such folder {show_path(folder)}")
        return "new", real, None, None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise UsageError(f"{shown}: is a folder, not a file")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "device", path, info, None
    if not stat.S_ISREG(mode):
        kind = "block device" if stat.S_ISBLK(mode) else "socket" if stat.S_ISSOCK(mode) else "special file"
        raise UsageError(f"{shown}: is a {kind}; gradscribe writes files, character devices, FIFOs and -")
    real = Path(os.path.realpath(path))
    old = _read_existing(real, info)
    if not force:
        _check_overwrite(old, shown)
    return "file", real, info, old


def _read_existing(path: Path, info: os.stat_result) -> bytes | None:
    """The bytes of the file about to be overwritten (None when too large to be ours)."""
    if info.st_size > MAX_INSPECTED:
        return None
    with open(path, "rb") as handle:
        return handle.read(MAX_INSPECTED + 1)


def _check_overwrite(old: bytes | None, shown: str) -> None:
    """Refuse to overwrite anything but an empty file or an unedited one gradscribe wrote."""
    origin = "foreign" if old is None or len(old) > MAX_INSPECTED else provenance(old)
    if origin in ("generated", "empty"):
        return
    if origin == "edited":
        why = "was edited after gradscribe wrote it (its body no longer matches the sha256 in its header)"
    else:
        why = "was not written by gradscribe (its header has no body sha256)"
    raise Refused(f"{shown} {why}; not overwritten (--force overwrites it)")


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of `data` to `fd`, in chunks."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:CHUNK])
        view = view[written:]


def _write_device(path: Path, data: bytes) -> None:
    """A character device or FIFO: opened and written, never created, truncated or renamed."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _replace(real: Path, data: bytes, old: os.stat_result | None) -> None:
    """Create or atomically replace the regular file `real` (no links other than itself)."""
    folder = real.parent
    fd = _open_unnamed(folder)
    if fd is not None:
        try:
            _fill(fd, data, old)
            if old is None and _link_unnamed(fd, real):  # a new file appears whole, at once
                _sync_folder(folder)
                return
            temp = folder / _temporary_name(real.name)
            if _link_unnamed(fd, temp):
                try:
                    os.replace(temp, real)
                except BaseException:
                    _remove(temp)
                    raise
                _sync_folder(folder)
                return
        finally:
            os.close(fd)
    _replace_through_named(real, data, old)  # no O_TMPFILE, or no way to link it here


def _replace_through_named(real: Path, data: bytes, old: os.stat_result | None) -> None:
    """The same through a hidden temporary file (removed on any failure Python sees)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp = real.parent / _temporary_name(real.name)
        try:
            fd = os.open(temp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(real.parent))
    try:
        try:
            _fill(fd, data, old)
        finally:
            os.close(fd)
        os.replace(temp, real)
    except BaseException:
        _remove(temp)
        raise
    _sync_folder(real.parent)


def _fill(fd: int, data: bytes, old: os.stat_result | None) -> None:
    """Write the new file's bytes (with the replaced file's mode and owner) and flush them."""
    if old is not None:
        _keep_mode_and_owner(fd, old)
    _write_all(fd, data)
    os.fsync(fd)


def _open_unnamed(folder: Path) -> int | None:
    """An unnamed new file in `folder` (O_TMPFILE), mode 0666 minus the umask, or None where
    the system or file system has none."""
    if not hasattr(os, "O_TMPFILE"):
        return None
    try:
        return os.open(folder, os.O_WRONLY | os.O_TMPFILE | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _temporary_name(name: str) -> str:
    return f".{name}.{secrets.token_hex(4)}.tmp"


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _link_unnamed(fd: int, path: Path) -> bool | None:
    """Give the unnamed file `fd` the name `path`: True when done, False if the name is taken,
    None when this system cannot link it (then the caller uses a named temporary file)."""
    try:
        os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
        return True
    except FileExistsError:
        return False
    except OSError:
        pass
    return _linkat_empty_path(fd, path)


def _linkat_empty_path(fd: int, path: Path) -> bool | None:
    """linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH): Linux's other way to name an O_TMPFILE
    file, for systems whose /proc cannot (it answers EXDEV in some virtual machines)."""
    libc = _libc()
    if libc is None:
        return None
    if libc.linkat(fd, b"", _AT_FDCWD, os.fsencode(path), _AT_EMPTY_PATH) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        return False
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EMLINK):
        raise OSError(code, os.strerror(code), str(path))
    return None


_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000


@functools.cache
def _libc():
    """The C library, where ctypes can load it (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _keep_mode_and_owner(fd: int, old: os.stat_result) -> None:
    """The replacement gets the replaced file's permission bits, and its owner and group where
    the user may set them."""
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
    if hasattr(os, "fchown"):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:
            pass


def _rewrite_in_place(real: Path, data: bytes, old: bytes | None, shown: str) -> None:
    """Rewrite a multiply-linked file through its one inode, putting `old` back on failure."""
    if old is None:  # too large to keep a copy to restore: refuse rather than risk it
        raise UsageError(f"{shown}: has several hard links and is too large to rewrite safely")
    fd = os.open(real, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    try:
        if len(data) > len(old) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, len(data))
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
        try:
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        except BaseException:
            os.lseek(fd, 0, os.SEEK_SET)
            _write_all(fd, old)
            os.ftruncate(fd, len(old))
            os.fsync(fd)
            raise
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (best effort: not every system can fsync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
