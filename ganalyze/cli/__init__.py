"""Command-line apps of the package (console scripts declared in pyproject.toml)."""
