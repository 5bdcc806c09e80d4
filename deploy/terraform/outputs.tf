output "project_id" {
  description = "The project (replace PROJECT_ID in deploy/k8s with it)."
  value       = var.project_id
}

output "region" {
  description = "The region (replace REGION in deploy/k8s/kustomization.yaml with it)."
  value       = var.region
}

output "cluster_name" {
  description = "GKE cluster: gcloud container clusters get-credentials CLUSTER --region REGION --dns-endpoint."
  value       = google_container_cluster.omtx.name
}

output "cluster_location" {
  description = "Region of the GKE cluster."
  value       = google_container_cluster.omtx.location
}

output "results_bucket" {
  description = "Results bucket: OMTX_BLOB=gs://BUCKET."
  value       = google_storage_bucket.results.name
}

output "firestore_database" {
  description = "Firestore database: OMTX_STORE=firestore://PROJECT_ID."
  value       = google_firestore_database.omtx.name
}

output "image_registry" {
  description = "Prefix of the images: REGISTRY/omtx-web, REGISTRY/omtx-vina, ..."
  value       = "${google_artifact_registry_repository.omtx.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.omtx.repository_id}"
}

output "web_service_account" {
  description = "Google service account of the web tier (KSA omtx/omtx-web)."
  value       = google_service_account.web.email
}

output "runner_service_account" {
  description = "Google service account of the runners (KSA omtx/omtx-runner)."
  value       = google_service_account.runner.email
}

output "keda_service_account" {
  description = "Google service account of the KEDA operator (KSA keda/keda-operator)."
  value       = google_service_account.keda.email
}

output "web_ip_address" {
  description = "The web tier's public address: point the DNS A record of the host name at it."
  value       = google_compute_global_address.web.address
}

output "web_ip_name" {
  description = "Name of the static address (Ingress annotation kubernetes.io/ingress.global-static-ip-name)."
  value       = google_compute_global_address.web.name
}

output "ci_service_account" {
  description = "Service account CI impersonates (GitHub variable GCP_SERVICE_ACCOUNT)."
  value       = local.github_enabled ? google_service_account.ci[0].email : null
}

output "ci_workload_identity_provider" {
  description = "Workload Identity provider CI authenticates through (GitHub variable GCP_WORKLOAD_IDENTITY_PROVIDER)."
  value       = local.github_enabled ? google_iam_workload_identity_pool_provider.github[0].name : null
}
