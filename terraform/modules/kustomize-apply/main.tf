# Applies a kustomization (local folders or remote kustomize URLs, as `kubectl apply -k`
# takes them) in three waves: namespaces and CRDs first, then the objects that need them,
# then webhooks; the kustomization provider's documented order (ids_prio).

terraform {
  required_version = ">= 1.6"
  required_providers {
    kustomization = {
      source  = "kbst/kustomization"
      version = ">= 0.9.6, < 1.0"
    }
  }
}

variable "resources" {
  description = "What to build: local kustomization folders (absolute or relative to the root module) or remote kustomize URLs pinned with ?ref=."
  type        = list(string)
  validation {
    condition     = length(var.resources) > 0
    error_message = "resources needs at least one kustomization."
  }
}

variable "namespace" {
  description = "Namespace to set on every namespaced object (kustomize's namespace:); null keeps each object's own."
  type        = string
  default     = null
}

data "kustomization_overlay" "this" {
  resources = var.resources
  namespace = var.namespace
}

resource "kustomization_resource" "first" {
  for_each = data.kustomization_overlay.this.ids_prio[0]
  manifest = data.kustomization_overlay.this.manifests[each.value]
}

resource "kustomization_resource" "second" {
  for_each   = data.kustomization_overlay.this.ids_prio[1]
  manifest   = data.kustomization_overlay.this.manifests[each.value]
  depends_on = [kustomization_resource.first]
}

resource "kustomization_resource" "third" {
  for_each   = data.kustomization_overlay.this.ids_prio[2]
  manifest   = data.kustomization_overlay.this.manifests[each.value]
  depends_on = [kustomization_resource.second]
}

output "ids" {
  description = "Every object applied (group_version_kind|namespace|name)."
  value       = data.kustomization_overlay.this.ids
}
