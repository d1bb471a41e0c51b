variable "project_id" {
  description = "The Google Cloud project everything is created in."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the cluster, the bucket and the database (a regional cluster spreads its nodes over the region's zones)."
  type        = string
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west4."
  }
}

variable "name" {
  description = "Prefix of every resource's name (cluster, network, bucket, database, service accounts); one per environment."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,18}$", var.name))
    error_message = "name must be 3-19 lower-case letters, digits or hyphens, starting with a letter (service account ids are capped at 30 characters)."
  }
}

variable "labels" {
  description = "Labels put on every resource that takes them (cost attribution)."
  type        = map(string)
  default     = {}
}

variable "subnet_cidr" {
  description = "Primary range of the cluster's subnet (nodes)."
  type        = string
  default     = "10.10.0.0/20"
  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be an IPv4 CIDR block such as 10.10.0.0/20."
  }
}

variable "pods_cidr" {
  description = "Secondary range for pods (VPC-native cluster)."
  type        = string
  default     = "10.20.0.0/14"
  validation {
    condition     = can(cidrhost(var.pods_cidr, 0))
    error_message = "pods_cidr must be an IPv4 CIDR block."
  }
}

variable "services_cidr" {
  description = "Secondary range for services."
  type        = string
  default     = "10.24.0.0/20"
  validation {
    condition     = can(cidrhost(var.services_cidr, 0))
    error_message = "services_cidr must be an IPv4 CIDR block."
  }
}

variable "master_cidr" {
  description = "The /28 range of the private control plane."
  type        = string
  default     = "172.16.0.0/28"
  validation {
    condition     = can(cidrhost(var.master_cidr, 0)) && endswith(var.master_cidr, "/28")
    error_message = "master_cidr must be a /28 IPv4 block."
  }
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the control plane's public endpoint (your office, the CI runners' egress). Empty: no public access at all."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
  validation {
    condition     = alltrue([for n in var.master_authorized_networks : can(cidrhost(n.cidr_block, 0)) && n.cidr_block != "0.0.0.0/0"])
    error_message = "master_authorized_networks entries must be IPv4 CIDR blocks, and not 0.0.0.0/0."
  }
}

variable "release_channel" {
  description = "GKE release channel (automatic control plane and node upgrades)."
  type        = string
  default     = "REGULAR"
  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "cpu_pool" {
  description = "The CPU node pool: pipeline steps, Katib trials, model servers and the platform."
  type = object({
    machine_type = string
    min_nodes    = number
    max_nodes    = number
    disk_size_gb = number
    spot         = bool
  })
  default = {
    machine_type = "e2-standard-4"
    min_nodes    = 1
    max_nodes    = 5
    disk_size_gb = 100
    spot         = false
  }
  validation {
    condition     = var.cpu_pool.min_nodes >= 0 && var.cpu_pool.max_nodes >= var.cpu_pool.min_nodes && var.cpu_pool.max_nodes > 0
    error_message = "cpu_pool needs 0 <= min_nodes <= max_nodes and max_nodes > 0."
  }
  validation {
    condition     = var.cpu_pool.disk_size_gb >= 50
    error_message = "cpu_pool.disk_size_gb must be at least 50 (the kfops and TFDV images are 1.5 and 4.4 GB)."
  }
}

variable "gpu_pool" {
  description = "An optional GPU node pool (tainted nvidia.com/gpu=present:NoSchedule; select it with cluster.node_selector and a toleration). null: none."
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
  validation {
    condition     = var.gpu_pool == null ? true : (var.gpu_pool.accelerator_count >= 1 && var.gpu_pool.min_nodes >= 0 && var.gpu_pool.max_nodes >= var.gpu_pool.min_nodes)
    error_message = "gpu_pool needs accelerator_count >= 1 and 0 <= min_nodes <= max_nodes."
  }
}

variable "database_tier" {
  description = "Cloud SQL machine tier of MLflow's PostgreSQL (db-custom-CPUS-MEMORY_MB)."
  type        = string
  default     = "db-custom-1-3840"
  validation {
    condition     = can(regex("^db-(custom-[0-9]+-[0-9]+|f1-micro|g1-small|perf-optimized-N-[0-9]+)$", var.database_tier))
    error_message = "database_tier must be a Cloud SQL tier such as db-custom-1-3840."
  }
}

variable "database_high_availability" {
  description = "Regional (failover) Cloud SQL instead of zonal: for prod."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to destroy the cluster and the database (and keep the bucket's objects on destroy): true for prod."
  type        = bool
  default     = true
}

variable "bucket_retention_days" {
  description = "Days a non-current (overwritten or deleted) object version is kept in the bucket."
  type        = number
  default     = 30
  validation {
    condition     = var.bucket_retention_days >= 1
    error_message = "bucket_retention_days must be at least 1."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) encrypting the bucket, the database and the cluster's secrets. The key must be in the region, and the services' agents need encrypter/decrypter on it."
  type        = string
  validation {
    condition     = can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", var.kms_key_name))
    error_message = "kms_key_name must be projects/P/locations/L/keyRings/R/cryptoKeys/K."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving the data bucket's access logs (usage logs)."
  type        = string
}

variable "pipeline_service_accounts" {
  description = "Kubernetes service accounts (namespace/name) that run pipeline steps and Katib trials: they read and write the bucket."
  type        = list(string)
  default     = ["kubeflow/pipeline-runner"]
  validation {
    condition     = alltrue([for s in var.pipeline_service_accounts : can(regex("^[a-z0-9-]+/[a-z0-9-]+$", s))])
    error_message = "pipeline_service_accounts entries must be namespace/name."
  }
}

variable "serving_service_accounts" {
  description = "Kubernetes service accounts (namespace/name) of model servers (KServe's storage initializer): they only read the bucket."
  type        = list(string)
  default     = ["kubeflow/default"]
  validation {
    condition     = alltrue([for s in var.serving_service_accounts : can(regex("^[a-z0-9-]+/[a-z0-9-]+$", s))])
    error_message = "serving_service_accounts entries must be namespace/name."
  }
}

variable "rbac_security_group" {
  description = "Google Groups for RBAC: gke-security-groups@YOUR-DOMAIN (needs Google Workspace or Cloud Identity); null: RBAC on users and service accounts only."
  type        = string
  default     = null
  validation {
    condition     = var.rbac_security_group == null ? true : startswith(var.rbac_security_group, "gke-security-groups@")
    error_message = "rbac_security_group must be gke-security-groups@YOUR-DOMAIN."
  }
}
