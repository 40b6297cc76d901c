"""ganalyze's Hydra configs (installed as ganalyze.conf). Importing it registers the settings schema they build on."""

from ganalyze.settings import register_schema

register_schema()
