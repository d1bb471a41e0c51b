provider "google" {
  project = var.project_id
  region  = var.region
}

# The Kubernetes side authenticates with the caller's Google token (gcloud auth
# application-default login, or the CI's Workload Identity Federation).
data "google_client_config" "current" {}

locals {
  kubeconfig = yamlencode({
    apiVersion      = "v1"
    kind            = "Config"
    current-context = "kfops"
    clusters = [{
      name = "kfops"
      cluster = {
        server                     = module.cluster.cluster_endpoint
        certificate-authority-data = base64encode(module.cluster.cluster_ca_certificate)
      }
    }]
    users    = [{ name = "kfops", user = { token = data.google_client_config.current.access_token } }]
    contexts = [{ name = "kfops", context = { cluster = "kfops", user = "kfops" } }]
  })
}

provider "kubernetes" {
  host                   = module.cluster.cluster_endpoint
  cluster_ca_certificate = module.cluster.cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "helm" {
  kubernetes {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = module.cluster.cluster_ca_certificate
    token                  = data.google_client_config.current.access_token
  }
}

provider "kustomization" {
  kubeconfig_raw = local.kubeconfig
}
