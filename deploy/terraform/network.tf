# A VPC-native network for the cluster. Nodes have private addresses only;
# Cloud NAT gives them (and the pods) outbound access, and Private Google
# Access keeps Google API traffic on Google's network.

resource "google_compute_network" "omtx" {
  name                    = "omtx"
  auto_create_subnetworks = false
  depends_on              = [google_project_service.apis]
}

resource "google_compute_subnetwork" "omtx" {
  name                     = "omtx-${var.region}"
  region                   = var.region
  network                  = google_compute_network.omtx.id
  ip_cidr_range            = "10.10.0.0/20"
  private_ip_google_access = true

  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = "10.20.0.0/14"
  }

  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = "10.30.0.0/20"
  }
}

resource "google_compute_router" "omtx" {
  name    = "omtx"
  region  = var.region
  network = google_compute_network.omtx.id
}

resource "google_compute_router_nat" "omtx" {
  name                               = "omtx"
  router                             = google_compute_router.omtx.name
  region                             = var.region
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "ALL_SUBNETWORKS_ALL_IP_RANGES"

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# The web tier's public address; deploy/k8s/web-ingress.yaml names it.
resource "google_compute_global_address" "web" {
  name       = "omtx-web"
  depends_on = [google_project_service.apis]
}
