# prod: on-demand CPU nodes, an optional GPU pool, a regional (failover) database, and
# deletion protection on the cluster, the database and the bucket's objects.

variable "gpu_pool" {
  description = "The GPU node pool (null: none); for example { machine_type = \"n1-standard-8\", accelerator_type = \"nvidia-tesla-t4\", accelerator_count = 1, min_nodes = 0, max_nodes = 2, disk_size_gb = 200, spot = false }."
  type = object({
    machine_type      = string
    accelerator_type  = string
    accelerator_count = number
    min_nodes         = number
    max_nodes         = number
    disk_size_gb      = number
    spot              = bool
  })
  default = null
}

module "cluster" {
  source = "../../modules/gke"

  project_id                 = var.project_id
  region                     = var.region
  name                       = "kfops-prod"
  labels                     = { environment = "prod", app = "kfops" }
  kms_key_name               = var.kms_key_name
  access_log_bucket          = var.access_log_bucket
  master_authorized_networks = var.master_authorized_networks
  release_channel            = "STABLE"
  deletion_protection        = true
  database_high_availability = true
  database_tier              = "db-custom-2-7680"
  bucket_retention_days      = 90
  cpu_pool = {
    machine_type = "e2-standard-8"
    min_nodes    = 2
    max_nodes    = 10
    disk_size_gb = 200
    spot         = false
  }
  gpu_pool                  = var.gpu_pool
  pipeline_service_accounts = ["kubeflow/pipeline-runner"]
  serving_service_accounts  = ["kubeflow/default"]
}

module "platform" {
  source = "../../modules/platform"

  kfops_manifests           = "${path.root}/../../../manifests/overlays/prod"
  monitoring_manifests      = "${path.root}/../../../manifests/monitoring"
  database_uri              = module.cluster.database_uri
  artifact_root             = module.cluster.artifact_root
  pipeline_root             = module.cluster.pipeline_root
  pipeline_identity         = module.cluster.pipeline_identity
  serving_identity          = module.cluster.serving_identity
  pipeline_service_accounts = ["kubeflow/pipeline-runner"]
  serving_service_accounts  = ["kubeflow/default"]
  grafana_admin_password    = var.grafana_admin_password
  prometheus_retention      = "30d"
}
