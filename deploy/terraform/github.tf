# CI (.github/workflows/ci.yml) pushes images from the main branch through
# Workload Identity Federation: GitHub's OIDC token is exchanged for a
# short-lived token of the omtx-ci service account. No key file exists.
# Made only when var.github_repository is set.

locals {
  github_enabled = var.github_repository != ""
}

resource "google_iam_workload_identity_pool" "github" {
  count                     = local.github_enabled ? 1 : 0
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
  depends_on                = [google_project_service.apis]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  count                              = local.github_enabled ? 1 : 0
  workload_identity_pool_id          = google_iam_workload_identity_pool.github[0].workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  display_name                       = "GitHub Actions OIDC"

  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
    "attribute.ref"        = "assertion.ref"
  }
  # Only this repository's main branch.
  attribute_condition = "assertion.repository == '${var.github_repository}' && assertion.ref == 'refs/heads/main'"

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account" "ci" {
  count        = local.github_enabled ? 1 : 0
  account_id   = "omtx-ci"
  display_name = "OMTX-Hub CI (image pushes)"
}

resource "google_service_account_iam_member" "ci_federation" {
  count              = local.github_enabled ? 1 : 0
  service_account_id = google_service_account.ci[0].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github[0].name}/attribute.repository/${var.github_repository}"
}

resource "google_artifact_registry_repository_iam_member" "ci_push" {
  count      = local.github_enabled ? 1 : 0
  location   = google_artifact_registry_repository.omtx.location
  repository = google_artifact_registry_repository.omtx.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.ci[0].email}"
}
