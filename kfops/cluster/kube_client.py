"""The one place kfops builds a ``kubernetes`` API client (serving, rollout and tuning use it).

Credentials are looked for in kubectl's order: an explicit host (tests, a port-forward), the
kubeconfig (``--kubeconfig``, else ``$KUBECONFIG``, else ``~/.kube/config``), then the pod's
service account. The namespace follows kubectl too: ``-n``, else the kubeconfig context's
namespace, else the pod's own namespace, else ``default``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kfops.errors import ClusterError, one_line

DEFAULT_KUBECONFIG = "~/.kube/config"
DEFAULT_NAMESPACE = "default"
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def kubeconfig_location(config_file: str | os.PathLike[str] | None = None) -> str | None:
    """The kubeconfig to read (``KUBECONFIG`` may list several files, ':'-separated), or
    None when none of its files exists.

    Read on each call: the kubernetes library reads ``KUBECONFIG`` once, at import.
    """
    location = str(config_file) if config_file else os.environ.get("KUBECONFIG") or ""
    location = location or DEFAULT_KUBECONFIG
    paths = [os.path.expanduser(part) for part in location.split(os.pathsep) if part]
    if config_file and not any(os.path.exists(path) for path in paths):
        raise ClusterError(f"--kubeconfig {config_file}: no such file; pass an existing kubeconfig")
    return location if any(os.path.exists(path) for path in paths) else None


def api_client(
    host: str | None = None,
    *,
    context: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Any:
    """A client for ``host`` (tests), else the kubeconfig's ``context`` (default: its
    current one), else the pod's service account.

    Raises ClusterError when there is no credential, or the kubeconfig or context is bad.
    """
    from kubernetes import client, config

    if host is not None:
        return client.ApiClient(client.Configuration(host=host))
    location = kubeconfig_location(config_file)
    if location is not None:
        try:
            config.load_kube_config(config_file=location, context=context)
        except (config.ConfigException, OSError, ValueError) as exc:
            where = f" context '{context}'" if context else ""
            raise ClusterError(
                f"kubeconfig {location}{where}: {one_line(exc)}; "
                "check it with 'kubectl config get-contexts'"
            ) from exc
        return client.ApiClient()
    if context:
        raise ClusterError(
            f"--context {context}: no kubeconfig ({DEFAULT_KUBECONFIG} or KUBECONFIG) to find "
            "it in; pass --kubeconfig"
        )
    try:
        config.load_incluster_config()
    except config.ConfigException as exc:
        raise ClusterError(
            f"no Kubernetes credentials: no kubeconfig and not in a pod ({one_line(exc)}); "
            "set KUBECONFIG, pass --kubeconfig or run inside the cluster"
        ) from exc
    return client.ApiClient()


def current_namespace(
    context: str | None = None, config_file: str | os.PathLike[str] | None = None
) -> str:
    """The namespace kubectl would use without ``-n``: the context's, the pod's, or
    ``default``."""
    location = kubeconfig_location(config_file)
    if location is not None:
        from kubernetes import config

        try:
            contexts, active = config.list_kube_config_contexts(config_file=location)
        except (config.ConfigException, OSError, ValueError) as exc:
            raise ClusterError(f"kubeconfig {location}: {one_line(exc)}") from exc
        if context is not None:
            found = [item for item in contexts or [] if item.get("name") == context]
            if not found:
                known = ", ".join(item.get("name", "?") for item in contexts or []) or "none"
                raise ClusterError(
                    f"kubeconfig {location}: no context '{context}'; contexts: {known}"
                )
            active = found[0]
        namespace = ((active or {}).get("context") or {}).get("namespace")
        return namespace or DEFAULT_NAMESPACE
    if POD_NAMESPACE_FILE.is_file():
        return POD_NAMESPACE_FILE.read_text().strip() or DEFAULT_NAMESPACE
    return DEFAULT_NAMESPACE
