"""Where pipelines run: the embedded local runner and the Kubeflow cluster."""
