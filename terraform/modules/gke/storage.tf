# One bucket for both KFP pipeline roots (gs://BUCKET/pipeline-root) and MLflow artifacts
# (gs://BUCKET/mlflow): uniform access, no public access, versioned with old versions expiring.

resource "google_storage_bucket" "data" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name}-kfops"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = var.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.bucket_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  encryption {
    default_kms_key_name = var.kms_key_name
  }

  logging {
    log_bucket = var.access_log_bucket
  }
}
