"""Retraining on a signal: Alertmanager's drift alerts start one run, not one per alert."""
