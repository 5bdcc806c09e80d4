variable "project_id" {
  description = "Google Cloud project that holds everything."
  type        = string
}

variable "region" {
  description = "Region of the cluster, the bucket, the registry and the network (it must offer NVIDIA L4 GPUs in gpu_zones)."
  type        = string
  default     = "europe-west4"
}

variable "firestore_location" {
  description = "Firestore location: a region (europe-west4) or a multi-region (eur3, nam5)."
  type        = string
  default     = "eur3"
}

variable "cluster_name" {
  description = "Name of the GKE cluster."
  type        = string
  default     = "omtx"
}

variable "release_channel" {
  description = "GKE release channel: RAPID, REGULAR or STABLE."
  type        = string
  default     = "REGULAR"

  validation {
    condition     = contains(["RAPID", "REGULAR", "STABLE"], var.release_channel)
    error_message = "release_channel must be RAPID, REGULAR or STABLE."
  }
}

variable "master_authorized_cidrs" {
  description = "CIDR blocks allowed to reach the cluster's control plane (kubectl, CI). Empty: reachable only from inside the VPC."
  type = list(object({
    cidr_block   = string
    display_name = string
  }))
  default = []
}

variable "cpu_machine_type" {
  description = "Machine type of the CPU node pool (web tier, Vina runners, KEDA)."
  type        = string
  default     = "e2-standard-4"
}

variable "cpu_min_nodes" {
  description = "Fewest CPU nodes per zone."
  type        = number
  default     = 1
}

variable "cpu_max_nodes" {
  description = "Most CPU nodes per zone."
  type        = number
  default     = 5
}

variable "gpu_machine_type" {
  description = "Machine type of the GPU node pool: a G2 machine carries NVIDIA L4s (g2-standard-8: 1 L4, 8 vCPU, 32 GB)."
  type        = string
  default     = "g2-standard-8"
}

variable "gpu_zones" {
  description = "Zones of the region where the GPU node pool runs (L4 capacity differs by zone)."
  type        = list(string)
  default     = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
}

variable "gpu_max_nodes" {
  description = "Most GPU nodes in the pool, all zones together. Keep the runners' ScaledObject maxReplicaCount at or under it."
  type        = number
  default     = 8
}

variable "gpu_spot" {
  description = "Use Spot VMs for GPU nodes (much cheaper; a preempted job's lease expires and the job is retried)."
  type        = bool
  default     = false
}

variable "results_bucket_name" {
  description = "Name of the results bucket; empty: PROJECT_ID-omtx-results."
  type        = string
  default     = ""
}

variable "archive_coldline_days" {
  description = "Days after which objects under archive/ move to Coldline storage."
  type        = number
  default     = 30
}

variable "github_repository" {
  description = "GitHub repository (owner/name) whose main branch may push images through Workload Identity Federation. Empty: no CI identity."
  type        = string
  default     = ""
}
