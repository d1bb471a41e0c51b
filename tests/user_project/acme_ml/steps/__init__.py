"""The project's own pipeline steps (``steps:`` in kfops.yaml), one module each."""
