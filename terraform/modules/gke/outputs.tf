# The contract every cluster module keeps (an EKS module beside this one returns the same
# names), so the platform module and the env roots do not depend on the cloud.

output "cluster_name" {
  description = "The cluster's name."
  value       = google_container_cluster.main.name
}

output "cluster_endpoint" {
  description = "HTTPS address of the Kubernetes API server."
  value       = "https://${google_container_cluster.main.endpoint}"
}

output "cluster_ca_certificate" {
  description = "PEM of the cluster's CA (decoded), for the kubernetes and helm providers."
  value       = base64decode(google_container_cluster.main.master_auth[0].cluster_ca_certificate)
  sensitive   = true
}

output "bucket" {
  description = "The bucket holding pipeline roots and MLflow artifacts."
  value       = google_storage_bucket.data.name
}

output "pipeline_root" {
  description = "KFP's default pipeline root."
  value       = "gs://${google_storage_bucket.data.name}/pipeline-root"
}

output "artifact_root" {
  description = "MLflow's --default-artifact-root."
  value       = "gs://${google_storage_bucket.data.name}/mlflow"
}

output "database_uri" {
  description = "SQLAlchemy URI of MLflow's backend store (with its password; TLS required)."
  value       = "postgresql+psycopg2://${google_sql_user.mlflow.name}:${random_password.mlflow.result}@${google_sql_database_instance.mlflow.private_ip_address}:5432/${google_sql_database.mlflow.name}?sslmode=require"
  sensitive   = true
}

output "pipeline_identity" {
  description = "Annotations for the Kubernetes service accounts that run pipeline steps (Workload Identity)."
  value       = { "iam.gke.io/gcp-service-account" = google_service_account.pipelines.email }
}

output "serving_identity" {
  description = "Annotations for the model servers' Kubernetes service accounts (Workload Identity)."
  value       = { "iam.gke.io/gcp-service-account" = google_service_account.serving.email }
}
