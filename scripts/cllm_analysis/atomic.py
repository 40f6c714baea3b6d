"""atomic.py - atomic file writes. Standard library only, so that the
measurement scripts (scripts/sweep_common.py) use it without numpy."""
import os


def write_atomic(path, text):
    """A temp file in the same folder, fsync, rename: never a half-written file."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
