# The result files (OMTX_BLOB=gs://BUCKET): the storage hierarchy of
# batches/, jobs/ and archive/. Private (uniform access, public access
# prevented); downloads go through the web tier or V4 signed URLs.
resource "google_storage_bucket" "results" {
  name          = local.results_bucket
  location      = var.region
  storage_class = "STANDARD"
  force_destroy = false

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Rewritten objects keep their old version for a while (recovery from a
  # bad finalize); the last rule below deletes old versions.
  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  # Archived batches are rarely read: Coldline after 30 days.
  lifecycle_rule {
    condition {
      age            = var.archive_coldline_days
      matches_prefix = ["archive/"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  # Temporary objects (a tmp/ prefix or a .tmp suffix) never outlive a day.
  lifecycle_rule {
    condition {
      age            = 1
      matches_prefix = ["tmp/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = 1
      matches_suffix = [".tmp"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}
