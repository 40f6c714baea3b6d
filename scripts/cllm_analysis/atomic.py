"""atomic.py - atomic, durable file writes, the protocol core/afile.c
follows in C. Standard library only, so that the measurement scripts
(scripts/sweep_common.py) use it without numpy.

write_atomic(path, data):
  1. removes the temporaries a dead writer of the same target left behind:
     `.<basename>.<pid>.<hex>.tmp` in the target's folder whose pid is no
     live process (os.kill(pid, 0) raises ProcessLookupError); never those
     of a live process, which may be writing right now;
  2. creates `.<basename>.<pid>.<16 random hex digits>.tmp` in the target's
     folder with O_CREAT | O_EXCL (a name no other writer can hold);
  3. writes the data and fsyncs the file;
  4. renames it onto the target (atomic on one file system: a reader sees
     the old file or the new one, never a part);
  5. fsyncs the folder, so the rename itself survives a power cut.
On any failure the temporary is removed and the target is untouched.
"""
import contextlib
import io
import os
import re
import secrets


def _text_bytes(data):
    """str as UTF-8; a path's undecodable bytes (surrogateescape) as the
    bytes they stand for, never an exception."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    try:
        return data.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return data.encode("utf-8", "backslashreplace")


def remove_stale(path):
    """Step 1: the dead writers' temporaries of path, removed. Returns the
    names removed."""
    folder, base = os.path.split(os.path.abspath(path))
    pat = re.compile(r"\." + re.escape(base) + r"\.([0-9]+)\.[0-9a-f]+\.tmp\Z")
    gone = []
    try:
        names = os.listdir(folder)
    except OSError:
        return gone
    for name in names:
        m = pat.match(name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid <= 0:
            continue
        try:
            os.kill(pid, 0)
            continue                    # alive (ours or another's): leave it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue                    # alive, another user's
        except OverflowError:
            pass                        # no such pid can exist
        try:
            os.unlink(os.path.join(folder, name))
            gone.append(name)
        except FileNotFoundError:
            pass
    return gone


def write_atomic(path, data):
    """Write data (str or bytes) to path by the protocol above."""
    folder, base = os.path.split(os.path.abspath(path))
    remove_stale(path)
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_text_bytes(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


@contextlib.contextmanager
def open_atomic(path):
    """`with open_atomic(path) as f: f.write(...)`: a text file collected in
    memory and written by write_atomic when the block ends without an
    exception (with one, the target is untouched)."""
    buf = io.StringIO()
    yield buf
    write_atomic(path, buf.getvalue())
