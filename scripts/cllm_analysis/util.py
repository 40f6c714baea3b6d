"""util.py - small helpers shared by the modules: number parsing, formatting
of figures and intervals, JSON cleaning; the package's atomic writer
(atomic.py) re-exported."""
import math

import numpy as np

from . import ijson
from .atomic import write_atomic  # noqa: F401 (the package's writer, re-exported)


def num(v):
    """A finite float, or None (for None, text, NaN, infinities)."""
    try:
        x = float(v)
        return x if math.isfinite(x) else None
    except (TypeError, ValueError):
        return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def fnum(x, f="{:.3g}", na="NA"):
    return na if x is None else f.format(x)


def fmetric(x):
    """A metric value: whole numbers from 100 up (tokens/s), 4 significant digits below (units/s)."""
    return "NA" if x is None else f"{x:.0f}" if abs(x) >= 100 else f"{x:.4g}"


def fmt_ci(ci, f="{:.3g}"):
    return f"[{f.format(ci[0])}, {f.format(ci[1])}]" if ci else "n/a"


def ranges(ns):
    """[1, 2, 3, 4, 8, 16] -> '1-4, 8, 16'."""
    ns = sorted(ns)
    out, i = [], 0
    while i < len(ns):
        j = i
        while j + 1 < len(ns) and ns[j + 1] == ns[j] + 1:
            j += 1
        out.append(f"{ns[i]}-{ns[j]}" if j - i >= 2 else ", ".join(map(str, ns[i:j + 1])))
        i = j + 1
    return ", ".join(out)


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def json_clean(o):
    """numpy values to Python ones, NaN and infinities to null: valid JSON."""
    if isinstance(o, dict):
        return {str(k): json_clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray)):
        return [json_clean(v) for v in o]
    if isinstance(o, (np.bool_, bool)):
        return bool(o)
    if isinstance(o, (np.integer, int)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(o) else None
    return o


def json_text(o):
    """o as the project's JSON (ijson.dumps: I-JSON whatever its strings hold)."""
    return ijson.dumps(json_clean(o), indent=1, allow_nan=False) + "\n"
