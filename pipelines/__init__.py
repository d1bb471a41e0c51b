"""Pipeline assembly. ``compiled/`` holds the generated KFP IR; CI checks it is current."""
