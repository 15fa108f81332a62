"""The ``openclaw`` command line: a thin translation onto the programmatic API."""
