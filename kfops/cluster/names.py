"""The Kubernetes names kfops reads and writes, declared once.

Manifests, the deploy step, the KServe traffic backend and the rollout operator all
address the same objects and labels; a typo in one of them would make two parts of the
platform disagree silently, so every group, version, plural, label and annotation lives
here.
"""

from __future__ import annotations

# ModelRollout, kfops' own custom resource.
ROLLOUT_GROUP = "rollouts.kfops.io"
ROLLOUT_VERSION = "v1alpha1"
ROLLOUT_KIND = "ModelRollout"
ROLLOUT_PLURAL = "modelrollouts"
COMMAND_ANNOTATION = f"{ROLLOUT_GROUP}/command"
"""A user's command on a ModelRollout, carried out once by the operator."""

# KServe InferenceService.
ISVC_GROUP = "serving.kserve.io"
ISVC_VERSION = "v1beta1"
ISVC_KIND = "InferenceService"
ISVC_PLURAL = "inferenceservices"
ISVC_API_VERSION = f"{ISVC_GROUP}/{ISVC_VERSION}"
DEPLOYMENT_MODE_ANNOTATION = f"{ISVC_GROUP}/deploymentMode"
TAG_ROUTING_ANNOTATION = f"{ISVC_GROUP}/enable-tag-routing"

# Istio VirtualService (shadow and A/B traffic).
VS_GROUP = "networking.istio.io"
VS_VERSION = "v1beta1"
VS_PLURAL = "virtualservices"

# Katib Experiment.
KATIB_GROUP = "kubeflow.org"
KATIB_VERSION = "v1beta1"
KATIB_PLURAL = "experiments"

# Labels and annotations kfops puts on what it deploys.
MODEL_LABEL = "kfops.io/model"
MODEL_VERSION_LABEL = "kfops.io/model-version"
VARIANT_LABEL = "kfops.io/variant"
MODEL_SHA256_ANNOTATION = "kfops.io/model-sha256"
