# The images: omtx-web, omtx-vina, omtx-boltz2 and omtx-chai1, tagged by
# commit. Tags are immutable: a tag always names the same image.
resource "google_artifact_registry_repository" "omtx" {
  location      = var.region
  repository_id = "omtx"
  description   = "OMTX-Hub images"
  format        = "DOCKER"

  docker_config {
    immutable_tags = true
  }

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }

  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"
    condition {
      tag_state  = "UNTAGGED"
      older_than = "604800s"
    }
  }

  depends_on = [google_project_service.apis]
}
