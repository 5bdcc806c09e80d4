# A regional GKE Standard cluster with Workload Identity, Dataplane V2
# (which enforces deploy/k8s/networkpolicy.yaml) and Managed Service for
# Prometheus (which scrapes the web tier's /metrics for KEDA).

resource "google_container_cluster" "omtx" {
  name     = var.cluster_name
  location = var.region

  network         = google_compute_network.omtx.id
  subnetwork      = google_compute_subnetwork.omtx.id
  networking_mode = "VPC_NATIVE"
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }
  datapath_provider = "ADVANCED_DATAPATH"

  # Node pools are managed below, not by the cluster resource.
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true

  release_channel {
    channel = var.release_channel
  }

  workload_identity_config {
    workload_pool = local.workload_pool
  }

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
  }

  # kubectl through the DNS endpoint is authorised by IAM alone.
  control_plane_endpoints_config {
    dns_endpoint_config {
      allow_external_traffic = true
    }
  }

  master_authorized_networks_config {
    dynamic "cidr_blocks" {
      for_each = var.master_authorized_cidrs
      content {
        cidr_block   = cidr_blocks.value.cidr_block
        display_name = cidr_blocks.value.display_name
      }
    }
  }

  addons_config {
    http_load_balancing {
      disabled = false
    }
    horizontal_pod_autoscaling {
      disabled = false
    }
  }

  monitoring_config {
    enable_components = ["SYSTEM_COMPONENTS"]
    managed_prometheus {
      enabled = true
    }
  }

  logging_config {
    enable_components = ["SYSTEM_COMPONENTS", "WORKLOADS"]
  }

  maintenance_policy {
    recurring_window {
      start_time = "2026-01-03T02:00:00Z"
      end_time   = "2026-01-03T08:00:00Z"
      recurrence = "FREQ=WEEKLY;BYDAY=SA,SU"
    }
  }

  depends_on = [google_project_service.apis]
}

# The CPU pool: web tier, Vina runners, KEDA and system pods. Its name is
# the nodeSelector of those Deployments (cloud.google.com/gke-nodepool: cpu).
resource "google_container_node_pool" "cpu" {
  name     = "cpu"
  cluster  = google_container_cluster.omtx.id
  location = var.region

  autoscaling {
    min_node_count  = var.cpu_min_nodes
    max_node_count  = var.cpu_max_nodes
    location_policy = "BALANCED"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }

  node_config {
    machine_type    = var.cpu_machine_type
    image_type      = "COS_CONTAINERD"
    disk_type       = "pd-balanced"
    disk_size_gb    = 100
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    labels = {
      "omtx-pool" = "cpu"
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}

# The GPU pool: one NVIDIA L4 per node, from zero nodes. The cluster
# autoscaler adds a node when a Boltz-2 or Chai-1 runner pod is pending and
# removes it once no runner is left on it. The taint keeps every other pod
# off these nodes; the runners tolerate it.
resource "google_container_node_pool" "gpu" {
  name           = "gpu-l4"
  cluster        = google_container_cluster.omtx.id
  location       = var.region
  node_locations = var.gpu_zones

  initial_node_count = 0

  autoscaling {
    total_min_node_count = 0
    total_max_node_count = var.gpu_max_nodes
    location_policy      = "ANY"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  upgrade_settings {
    max_surge       = 1
    max_unavailable = 0
  }

  node_config {
    machine_type    = var.gpu_machine_type
    image_type      = "COS_CONTAINERD"
    spot            = var.gpu_spot
    # Room for the model weights (downloaded per pod) and the work folders.
    disk_type       = "pd-ssd"
    disk_size_gb    = 200
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    guest_accelerator {
      type  = "nvidia-l4"
      count = 1
      gpu_driver_installation_config {
        gpu_driver_version = "LATEST"
      }
    }

    taint {
      key    = "nvidia.com/gpu"
      value  = "present"
      effect = "NO_SCHEDULE"
    }

    labels = {
      "omtx-pool" = "gpu"
    }

    # Image streaming: the multi-gigabyte runner images start before they
    # are fully pulled.
    gcfs_config {
      enabled = true
    }

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }
  }
}
