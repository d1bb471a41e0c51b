output "kfp_host" {
  description = "Kubeflow Pipelines' API inside the cluster; from a workstation: kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80, then --host http://127.0.0.1:8080."
  value       = "http://ml-pipeline-ui.kubeflow.svc.cluster.local"
}

output "mlflow_uri" {
  description = "MLflow's tracking server inside the cluster (tracking.uri); from a workstation: kubectl -n mlflow port-forward svc/mlflow 5000."
  value       = "http://mlflow.mlflow.svc.cluster.local:5000"
}

output "installed" {
  description = "What this module installed, with versions."
  value       = var.versions
}
