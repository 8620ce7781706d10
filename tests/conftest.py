import os
import sys

# Tests share fixtures from this folder (`from cifar_fixture import ...`); the checks they use
# come from the package: `from minigrad.testing import check_op`.
sys.path.insert(0, os.path.dirname(__file__))
