"""KFP component, see component.py."""
