variable "kfops_manifests" {
  description = "The kfops kustomize overlay to apply (manifests/overlays/<env>): the ModelRollout CRD, the rollout operator, RBAC, MLflow, NetworkPolicies, namespaces."
  type        = string
}

variable "monitoring_manifests" {
  description = "The kfops monitoring objects (manifests/monitoring): PrometheusRules, PodMonitors, Grafana dashboards; applied after kube-prometheus-stack."
  type        = string
}

variable "database_uri" {
  description = "MLflow's backend store URI (postgresql+psycopg2://...), put into the mlflow-backend Secret."
  type        = string
  sensitive   = true
  validation {
    condition     = startswith(var.database_uri, "postgresql")
    error_message = "database_uri must be a PostgreSQL SQLAlchemy URI (postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB)."
  }
}

variable "artifact_root" {
  description = "MLflow's --default-artifact-root: a bucket prefix every pod reaches (gs:// or s3://)."
  type        = string
  validation {
    condition     = can(regex("^(gs|s3)://[a-z0-9._-]+(/.*)?$", var.artifact_root))
    error_message = "artifact_root must be a gs:// or s3:// URL."
  }
}

variable "pipeline_root" {
  description = "KFP's default pipeline root (the kfp-launcher ConfigMap): a bucket prefix."
  type        = string
  validation {
    condition     = can(regex("^(gs|s3|minio)://[a-z0-9._-]+(/.*)?$", var.pipeline_root))
    error_message = "pipeline_root must be a gs://, s3:// or minio:// URL."
  }
}

variable "pipeline_identity" {
  description = "Annotations giving the pipeline steps' Kubernetes service accounts a cloud identity (GKE: iam.gke.io/gcp-service-account; EKS: eks.amazonaws.com/role-arn)."
  type        = map(string)
}

variable "serving_identity" {
  description = "Annotations giving the model servers' Kubernetes service accounts a cloud identity (read-only on the bucket)."
  type        = map(string)
}

variable "pipeline_service_accounts" {
  description = "Kubernetes service accounts (namespace/name) annotated with pipeline_identity; they exist once KFP and the overlay are applied."
  type        = list(string)
  default     = ["kubeflow/pipeline-runner"]
}

variable "serving_service_accounts" {
  description = "Kubernetes service accounts (namespace/name) annotated with serving_identity."
  type        = list(string)
  default     = ["kubeflow/default"]
}

variable "versions" {
  description = "Versions of what is installed: Helm chart versions and the kustomize refs of Kubeflow Pipelines and Katib. Pin them; bump them in one reviewed change."
  type = object({
    cert_manager          = string
    istio                 = string
    knative_operator      = string
    kserve                = string
    kubeflow_pipelines    = string
    katib                 = string
    kube_prometheus_stack = string
  })
  default = {
    cert_manager          = "v1.16.2"
    istio                 = "1.24.2"
    knative_operator      = "v1.16.1"
    kserve                = "v0.15.0"
    kubeflow_pipelines    = "2.4.0"
    katib                 = "v0.17.0"
    kube_prometheus_stack = "66.3.1"
  }
  validation {
    condition     = alltrue([for v in values(var.versions) : can(regex("^v?[0-9]+\\.[0-9]+\\.[0-9]+$", v))])
    error_message = "versions must be exact releases (1.2.3 or v1.2.3), never a range or a branch."
  }
}

variable "grafana_admin_password" {
  description = "Grafana's admin password (kube-prometheus-stack); keep it in a secret store, pass it with TF_VAR_grafana_admin_password."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.grafana_admin_password) >= 16
    error_message = "grafana_admin_password must be at least 16 characters."
  }
}

variable "prometheus_retention" {
  description = "How long Prometheus keeps samples (rollout analysis reads minutes; drift and SLO dashboards read weeks)."
  type        = string
  default     = "15d"
  validation {
    condition     = can(regex("^[0-9]+(h|d|w)$", var.prometheus_retention))
    error_message = "prometheus_retention must be a duration such as 15d."
  }
}
