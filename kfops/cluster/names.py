"""The Kubernetes names kfops reads and writes, declared once.

Manifests, the deploy step, the KServe traffic backend, the rollout operator and the Katib
tuner all address the same objects and labels; a typo in one of them would make two parts
of the platform disagree silently, so every group, version, plural, label and annotation
lives here.
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
VS_KIND = "VirtualService"
VS_PLURAL = "virtualservices"
VS_API_VERSION = f"{VS_GROUP}/{VS_VERSION}"

# Katib Experiment and its Trials.
KATIB_GROUP = "kubeflow.org"
KATIB_VERSION = "v1beta1"
KATIB_KIND = "Experiment"
KATIB_PLURAL = "experiments"
KATIB_TRIAL_PLURAL = "trials"
KATIB_API_VERSION = f"{KATIB_GROUP}/{KATIB_VERSION}"
KATIB_EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
"""Katib labels each Trial with its Experiment's name."""

# Labels and annotations kfops puts on what it deploys.
MODEL_ANNOTATION = "kfops.io/model"
"""The registered model an InferenceService serves (an annotation: names may be long)."""
MODEL_VERSION_LABEL = "kfops.io/model-version"
VARIANT_LABEL = "kfops.io/variant"
MODEL_SHA256_ANNOTATION = "kfops.io/model-sha256"

# Server-side apply field managers: who owns which fields of an object.
DEPLOY_FIELD_MANAGER = "kfops"
ROLLOUT_FIELD_MANAGER = "kfops-rollout"
