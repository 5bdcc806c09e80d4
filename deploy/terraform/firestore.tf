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
