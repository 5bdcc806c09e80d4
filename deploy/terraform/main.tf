# OMTX-Hub on Google Cloud: a GKE cluster (a CPU node pool for the web tier
# and the Vina runners, an NVIDIA L4 node pool for Boltz-2 and Chai-1 that
# scales to zero), Firestore (jobs, users), a Cloud Storage bucket (result
# files), an Artifact Registry repository (images) and one least-privilege
# service account per workload, bound by Workload Identity.

provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  results_bucket = var.results_bucket_name != "" ? var.results_bucket_name : "${var.project_id}-omtx-results"
  workload_pool  = "${var.project_id}.svc.id.goog"
  # Kubernetes namespace and service accounts of deploy/k8s.
  k8s_namespace = "omtx"
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "compute.googleapis.com",
    "container.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "identitytoolkit.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}
