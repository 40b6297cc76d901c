"""The visual-definition explorer: a static site built from run folders (GANalyze's "Browse examples" page,
local): choose runs, a class and α columns; click an image for its scores and measured factors."""

from ganalyze.explorer.site import build_site

__all__ = ["build_site"]
