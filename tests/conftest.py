"""Suite-wide settings: no test downloads weights or reads the user's download cache.

Tests that exercise downloads point ``GANALYZE_BIGGAN_URL`` at a loopback server and lift the offline switch
themselves (tests/test_biggan_download.py).
"""

import atexit
import os
import shutil
import tempfile

os.environ["GANALYZE_OFFLINE"] = "1"
os.environ["GANALYZE_CACHE"] = tempfile.mkdtemp(prefix="ganalyze-test-cache-")
atexit.register(shutil.rmtree, os.environ["GANALYZE_CACHE"], ignore_errors=True)
