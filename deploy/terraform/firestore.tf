# The job and user store (OMTX_STORE=firestore://PROJECT_ID): the project's
# (default) database in Native mode, protected from deletion, with
# point-in-time recovery.
resource "google_firestore_database" "omtx" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.apis]
}

# Composite indexes of the job store's queries (jobs/firestore's package
# comment lists them). The collections hang under the store's root
# document; an index on collection id "jobs" scoped COLLECTION serves
# them wherever the root is. The list pages (My batches, GET
# /api/v3/batches) need one more per filter they combine; Firestore's
# error for a missing one links to its definition.
locals {
  firestore_indexes = {
    jobs_lease_individual = { collection = "jobs", fields = ["user_id", "type", "status", "model", "created_at", "ord"] }
    jobs_lease_batches    = { collection = "jobs", fields = ["user_id", "type", "open", "model"] }
    jobs_children         = { collection = "jobs", fields = ["batch_id", "type", "status", "idx"] }
    jobs_finalize         = { collection = "jobs", fields = ["type", "finalize_state", "finished_at"] }
    jobs_rescue           = { collection = "jobs", fields = ["status", "lease_expires_at"] }
    jobs_rescue_finalize  = { collection = "jobs", fields = ["finalize_state", "lease_expires_at"] }
    jobs_rescue_phase     = { collection = "jobs", fields = ["phase", "updated_at"] }
    jobs_rescue_sweep     = { collection = "jobs", fields = ["sweep", "sweep_at"] }
    jobs_stats            = { collection = "jobs", fields = ["type", "status", "attempt"] }
    jobs_list_batches     = { collection = "jobs", fields = ["user_id", "type", "created_at"] }
    users_fair            = { collection = "users", fields = ["eligible", "served", "user_id"] }
  }
}

resource "google_firestore_index" "omtx" {
  for_each = local.firestore_indexes

  database    = google_firestore_database.omtx.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
}
