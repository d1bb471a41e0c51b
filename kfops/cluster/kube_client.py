"""The one place kfops builds a ``kubernetes`` API client (serving, rollout and tuning use it).

Credentials are looked for in the order a tool run both in and outside a cluster wants: an
explicit host (tests, a port-forward), the pod's service account, then ~/.kube/config.
"""

from __future__ import annotations

from typing import Any

from kfops.errors import ClusterError


def api_client(host: str | None = None) -> Any:
    """A client for ``host`` (tests), else the pod's service account, else ~/.kube/config.

    Raises ClusterError when neither credential is there.
    """
    from kubernetes import client, config

    if host is not None:
        return client.ApiClient(client.Configuration(host=host))
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            raise ClusterError(
                f"no Kubernetes credentials: not in a pod and no kubeconfig ({exc}); "
                "set KUBECONFIG or run inside the cluster"
            ) from exc
    return client.ApiClient()
