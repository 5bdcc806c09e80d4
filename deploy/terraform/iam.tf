# One Google service account per workload, each with only what it needs,
# and Workload Identity bindings from the Kubernetes service accounts of
# deploy/k8s (namespace omtx) and of the KEDA operator.

# The nodes' own identity: logs, metrics and image pulls, nothing else
# (workloads use their own accounts through the GKE metadata server).
resource "google_service_account" "nodes" {
  account_id   = "omtx-nodes"
  display_name = "OMTX-Hub GKE nodes"
}

resource "google_project_iam_member" "nodes_default" {
  project = var.project_id
  role    = "roles/container.defaultNodeServiceAccount"
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_artifact_registry_repository_iam_member" "nodes_pull" {
  location   = google_artifact_registry_repository.omtx.location
  repository = google_artifact_registry_repository.omtx.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${google_service_account.nodes.email}"
}

# The web tier: reads and writes jobs and users in Firestore, reads and
# writes result files, signs V4 URLs for downloads (signBlob on itself: no
# key file), and looks up Firebase Auth users (revocation checks, session
# cookies).
resource "google_service_account" "web" {
  account_id   = "omtx-web"
  display_name = "OMTX-Hub web tier"
}

# The runners: lease and complete jobs in Firestore, write result files.
# They sign no URLs and see no users.
resource "google_service_account" "runner" {
  account_id   = "omtx-runner"
  display_name = "OMTX-Hub model runners"
}

# KEDA's operator: reads the queue gauges from Managed Prometheus.
resource "google_service_account" "keda" {
  account_id   = "omtx-keda"
  display_name = "KEDA operator (OMTX-Hub runner autoscaling)"
}

resource "google_project_iam_member" "web_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.web.email}"
}

resource "google_project_iam_member" "runner_datastore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.runner.email}"
}

resource "google_project_iam_member" "web_firebase_auth" {
  project = var.project_id
  role    = "roles/firebaseauth.viewer"
  member  = "serviceAccount:${google_service_account.web.email}"
}

resource "google_storage_bucket_iam_member" "web_objects" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.web.email}"
}

resource "google_storage_bucket_iam_member" "runner_objects" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.runner.email}"
}

# V4 signed URLs without a key: the web tier signs through the IAM
# Credentials API as itself.
resource "google_service_account_iam_member" "web_sign_self" {
  service_account_id = google_service_account.web.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_service_account.web.email}"
}

resource "google_project_iam_member" "keda_monitoring" {
  project = var.project_id
  role    = "roles/monitoring.viewer"
  member  = "serviceAccount:${google_service_account.keda.email}"
}

# Workload Identity: Kubernetes service account -> Google service account.
# The workload pool exists once the cluster does.
resource "google_service_account_iam_member" "web_workload_identity" {
  service_account_id = google_service_account.web.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[${local.k8s_namespace}/omtx-web]"
  depends_on         = [google_container_cluster.omtx]
}

resource "google_service_account_iam_member" "runner_workload_identity" {
  service_account_id = google_service_account.runner.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[${local.k8s_namespace}/omtx-runner]"
  depends_on         = [google_container_cluster.omtx]
}

resource "google_service_account_iam_member" "keda_workload_identity" {
  service_account_id = google_service_account.keda.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${local.workload_pool}[keda/keda-operator]"
  depends_on         = [google_container_cluster.omtx]
}
