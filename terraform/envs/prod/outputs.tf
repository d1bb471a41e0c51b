output "cluster_name" {
  description = "For gcloud container clusters get-credentials."
  value       = module.cluster.cluster_name
}

output "cluster_endpoint" {
  description = "The Kubernetes API server."
  value       = module.cluster.cluster_endpoint
}

output "kfp_host" {
  description = "Kubeflow Pipelines (kfops submit --host, KF_PIPELINES_ENDPOINT)."
  value       = module.platform.kfp_host
}

output "mlflow_uri" {
  description = "MLflow tracking server (tracking.uri in kfops.yaml)."
  value       = module.platform.mlflow_uri
}

output "bucket" {
  description = "Bucket of pipeline roots and MLflow artifacts (data.path and Feast sources can live here too)."
  value       = module.cluster.bucket
}

output "installed" {
  description = "Versions of what the platform module installed."
  value       = module.platform.installed
}
