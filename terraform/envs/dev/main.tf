# dev: a small zonal-database cluster on spot CPU nodes, no GPU, destroyable.

module "cluster" {
  source = "../../modules/gke"

  project_id                 = var.project_id
  region                     = var.region
  name                       = "kfops-dev"
  labels                     = { environment = "dev", app = "kfops" }
  kms_key_name               = var.kms_key_name
  access_log_bucket          = var.access_log_bucket
  master_authorized_networks = var.master_authorized_networks
  deletion_protection        = false
  database_high_availability = false
  cpu_pool = {
    machine_type = "e2-standard-4"
    min_nodes    = 1
    max_nodes    = 3
    disk_size_gb = 100
    spot         = true
  }
  gpu_pool                  = null
  pipeline_service_accounts = ["kubeflow/pipeline-runner"]
  serving_service_accounts  = ["kubeflow/default"]
}

module "platform" {
  source = "../../modules/platform"

  kfops_manifests           = "${path.root}/../../../manifests/overlays/dev"
  monitoring_manifests      = "${path.root}/../../../manifests/monitoring"
  database_uri              = module.cluster.database_uri
  artifact_root             = module.cluster.artifact_root
  pipeline_root             = module.cluster.pipeline_root
  pipeline_identity         = module.cluster.pipeline_identity
  serving_identity          = module.cluster.serving_identity
  pipeline_service_accounts = ["kubeflow/pipeline-runner"]
  serving_service_accounts  = ["kubeflow/default"]
  grafana_admin_password    = var.grafana_admin_password
}
