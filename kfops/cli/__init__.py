"""The ``kfops`` command line."""
