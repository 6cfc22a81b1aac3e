"""Fuzz targets for payk's parsers, runnable under Atheris or a plain random driver."""
