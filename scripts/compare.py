#!/usr/bin/python3
"""compare.py - the compare command line (scripts/cllm_analysis/cli.py: compare_main).
Run with Debian's python (numpy and scipy from python3-numpy, python3-scipy);
--help lists the options."""
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")     # tiny matrices: BLAS threads would only cost
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cllm_analysis import cli  # noqa: E402

sys.exit(cli.compare_main())
