# The platform kfops runs on, installed in dependency order:
#   cert-manager -> Istio (base, istiod, ingress gateway) -> Knative Serving (operator + a
#   KnativeServing on Istio) -> KServe (Serverless mode, the canary path kfops drives)
#   Kubeflow Pipelines (standalone) and Katib from their upstream kustomizations
#   kube-prometheus-stack (Prometheus for rollout analysis, Grafana, Alertmanager)
#   the kfops overlay (CRD, rollout operator, RBAC, MLflow, NetworkPolicies) and the kfops
#   monitoring objects; MLflow's backend Secret; KFP's pipeline root; Workload Identity.
# Charts come from their projects' own repositories. KFP and Katib ship no Helm chart, so
# they go through the kustomization provider, as `kubectl apply -k` would.

locals {
  kfp_ref   = "?ref=${var.versions.kubeflow_pipelines}"
  katib_ref = "?ref=${var.versions.katib}"
}

resource "helm_release" "cert_manager" {
  name             = "cert-manager"
  repository       = "https://charts.jetstack.io"
  chart            = "cert-manager"
  version          = var.versions.cert_manager
  namespace        = "cert-manager"
  create_namespace = true
  atomic           = true
  set {
    name  = "crds.enabled"
    value = "true"
  }
}

resource "helm_release" "istio_base" {
  name             = "istio-base"
  repository       = "https://istio-release.storage.googleapis.com/charts"
  chart            = "base"
  version          = var.versions.istio
  namespace        = "istio-system"
  create_namespace = true
  atomic           = true
}

resource "helm_release" "istiod" {
  name       = "istiod"
  repository = "https://istio-release.storage.googleapis.com/charts"
  chart      = "istiod"
  version    = var.versions.istio
  namespace  = "istio-system"
  atomic     = true
  depends_on = [helm_release.istio_base]
}

# Knative's Istio integration looks for the gateway labelled istio=ingressgateway.
resource "helm_release" "istio_ingressgateway" {
  name       = "istio-ingressgateway"
  repository = "https://istio-release.storage.googleapis.com/charts"
  chart      = "gateway"
  version    = var.versions.istio
  namespace  = "istio-system"
  atomic     = true
  values = [yamlencode({
    labels = { istio = "ingressgateway" }
    service = {
      type        = "LoadBalancer"
      annotations = { "networking.gke.io/load-balancer-type" = "Internal" }
    }
  })]
  depends_on = [helm_release.istiod]
}

resource "helm_release" "knative_operator" {
  name             = "knative-operator"
  repository       = "https://knative.github.io/operator"
  chart            = "knative-operator"
  version          = var.versions.knative_operator
  namespace        = "knative-operator"
  create_namespace = true
  atomic           = true
  depends_on       = [helm_release.istio_ingressgateway]
}

# The KnativeServing object (a custom resource of the operator's CRD) in its namespace.
module "knative_serving" {
  source     = "../kustomize-apply"
  resources  = ["${path.module}/knative"]
  depends_on = [helm_release.knative_operator]
}

resource "helm_release" "kserve_crd" {
  name             = "kserve-crd"
  repository       = "oci://ghcr.io/kserve/charts"
  chart            = "kserve-crd"
  version          = var.versions.kserve
  namespace        = "kserve"
  create_namespace = true
  atomic           = true
  depends_on       = [helm_release.cert_manager]
}

resource "helm_release" "kserve" {
  name       = "kserve"
  repository = "oci://ghcr.io/kserve/charts"
  chart      = "kserve"
  version    = var.versions.kserve
  namespace  = "kserve"
  atomic     = true
  values = [yamlencode({
    kserve = {
      controller = {
        deploymentMode = "Serverless"
        gateway        = { ingressGateway = { gateway = "knative-serving/knative-ingress-gateway" } }
      }
    }
  })]
  depends_on = [helm_release.kserve_crd, module.knative_serving]
}

# Kubeflow Pipelines standalone: cluster-scoped resources (CRDs, namespace) first.
module "kubeflow_pipelines" {
  source = "../kustomize-apply"
  resources = [
    "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources${local.kfp_ref}",
    "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic${local.kfp_ref}",
  ]
}

module "katib" {
  source     = "../kustomize-apply"
  resources  = ["github.com/kubeflow/katib.git/manifests/v1beta1/installs/katib-standalone${local.katib_ref}"]
  depends_on = [helm_release.cert_manager]
}

resource "helm_release" "kube_prometheus_stack" {
  # The release name is what kfops' PodMonitors and PrometheusRules select (release: kube-prometheus-stack).
  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.versions.kube_prometheus_stack
  namespace        = "monitoring"
  create_namespace = true
  atomic           = true
  values = [yamlencode({
    prometheus = {
      prometheusSpec = {
        retention = var.prometheus_retention
        # Pick up kfops' PodMonitors and rules in any namespace, not only this release's.
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
        serviceMonitorSelectorNilUsesHelmValues = false
      }
    }
    grafana = {
      sidecar = { dashboards = { enabled = true, searchNamespace = "ALL" } }
    }
  })]
  set_sensitive {
    name  = "grafana.adminPassword"
    value = var.grafana_admin_password
  }
}

module "kfops" {
  source     = "../kustomize-apply"
  resources  = [var.kfops_manifests]
  depends_on = [module.kubeflow_pipelines, module.katib, helm_release.kserve]
}

module "kfops_monitoring" {
  source     = "../kustomize-apply"
  resources  = [var.monitoring_manifests]
  depends_on = [helm_release.kube_prometheus_stack]
}

# MLflow's server reads both from this Secret (manifests/base/mlflow.yaml).
resource "kubernetes_secret_v1" "mlflow_backend" {
  metadata {
    name      = "mlflow-backend"
    namespace = "mlflow"
  }
  data = {
    "backend-store-uri"     = var.database_uri
    "default-artifact-root" = var.artifact_root
  }
  depends_on = [module.kfops]
}

# KFP's launcher writes every run's artifacts under this root unless a run names another.
resource "kubernetes_config_map_v1_data" "kfp_launcher" {
  metadata {
    name      = "kfp-launcher"
    namespace = "kubeflow"
  }
  data = {
    defaultPipelineRoot = var.pipeline_root
  }
  force      = true
  depends_on = [module.kubeflow_pipelines]
}

resource "kubernetes_annotations" "pipeline_identity" {
  for_each    = toset(var.pipeline_service_accounts)
  api_version = "v1"
  kind        = "ServiceAccount"
  metadata {
    namespace = split("/", each.value)[0]
    name      = split("/", each.value)[1]
  }
  annotations = var.pipeline_identity
  depends_on  = [module.kubeflow_pipelines, module.kfops]
}

resource "kubernetes_annotations" "serving_identity" {
  for_each    = toset(var.serving_service_accounts)
  api_version = "v1"
  kind        = "ServiceAccount"
  metadata {
    namespace = split("/", each.value)[0]
    name      = split("/", each.value)[1]
  }
  annotations = var.serving_identity
  depends_on  = [module.kfops]
}
