import os
import sys

# Tests import their shared helper as `from oracle import check_op`.
sys.path.insert(0, os.path.dirname(__file__))
