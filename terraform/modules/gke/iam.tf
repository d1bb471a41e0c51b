# Least privilege: three Google service accounts, each bound to what it needs and nothing
# project-wide beyond the nodes' logging and monitoring.
#   nodes      - the node pools: write logs and metrics, pull images from Artifact Registry
#   pipelines  - pipeline steps and Katib trials (Workload Identity): read and write objects
#   serving    - model servers, KServe's storage initializer: read objects
# MLflow's server runs with --no-serve-artifacts and reaches Cloud SQL by private IP with a
# password, so it needs no Google identity at all.

resource "google_service_account" "nodes" {
  project      = var.project_id
  account_id   = "${var.name}-nodes"
  display_name = "kfops ${var.name}: GKE nodes"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_service_account" "pipelines" {
  project      = var.project_id
  account_id   = "${var.name}-pipelines"
  display_name = "kfops ${var.name}: pipeline steps and Katib trials"
}

resource "google_service_account" "serving" {
  project      = var.project_id
  account_id   = "${var.name}-serving"
  display_name = "kfops ${var.name}: model servers"
}

resource "google_storage_bucket_iam_member" "pipelines" {
  bucket = google_storage_bucket.data.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.pipelines.email}"
}

resource "google_storage_bucket_iam_member" "serving" {
  bucket = google_storage_bucket.data.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.serving.email}"
}

# Workload Identity: the Kubernetes service accounts act as the Google ones (their
# iam.gke.io/gcp-service-account annotation is set by the platform module).
resource "google_service_account_iam_member" "pipelines_workload_identity" {
  for_each           = toset(var.pipeline_service_accounts)
  service_account_id = google_service_account.pipelines.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${each.value}]"
}

resource "google_service_account_iam_member" "serving_workload_identity" {
  for_each           = toset(var.serving_service_accounts)
  service_account_id = google_service_account.serving.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${each.value}]"
}
