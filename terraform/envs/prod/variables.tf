variable "project_id" {
  description = "The Google Cloud project of this environment."
  type        = string
}

variable "region" {
  description = "Region of the cluster, bucket and database."
  type        = string
  default     = "europe-west4"
}

variable "kms_key_name" {
  description = "Cloud KMS key encrypting the bucket, the database and the cluster's secrets (projects/P/locations/L/keyRings/R/cryptoKeys/K)."
  type        = string
}

variable "access_log_bucket" {
  description = "Existing bucket receiving the data bucket's access logs."
  type        = string
}

variable "master_authorized_networks" {
  description = "CIDR blocks allowed to reach the control plane (your workstation's and the CI's egress)."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
}

variable "grafana_admin_password" {
  description = "Grafana's admin password; pass it as TF_VAR_grafana_admin_password, never in a file."
  type        = string
  sensitive   = true
}
