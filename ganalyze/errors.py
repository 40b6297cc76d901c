"""User-facing errors: one paragraph naming the bad value and what would be right."""


class GanalyzeError(Exception):
    """An error caused by user input (config, files, names); the CLI prints it without a traceback."""


class ConfigError(GanalyzeError, ValueError):
    """A configuration value is out of range or inconsistent."""


class WeightsError(GanalyzeError, FileNotFoundError):
    """Weights are missing, corrupted, or do not match the architecture."""


class UnknownNameError(GanalyzeError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class OutputError(GanalyzeError, OSError):
    """A result could not be written (no space, read-only, not a folder); earlier results are left intact."""
