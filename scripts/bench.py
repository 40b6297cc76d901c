"""Benchmark our training step against the published GANalyze step (same as the ganalyze-bench command)."""

import sys

from ganalyze.bench import main

if __name__ == "__main__":
    sys.exit(main())
