"""MLflow tracking and Model Registry: runs, versions, champion/challenger aliases."""
