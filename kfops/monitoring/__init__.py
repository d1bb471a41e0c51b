"""Monitoring as code: Prometheus rules, Grafana dashboards and the objects that install them.

``rules`` builds the recording and alerting rules from a small typed settings model,
``dashboards`` the Grafana dashboards (grafana-foundation-sdk), ``objects`` the Kubernetes
objects (PrometheusRule, PodMonitors, dashboard ConfigMaps), ``seldon`` the Helm values for
seldon-core-analytics, and ``render`` writes them all to a folder (``manifests/monitoring``
is its output, checked for staleness by the tests).
"""
