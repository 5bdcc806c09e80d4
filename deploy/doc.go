// Package deploy holds OMTX-Hub's production deployment for Google Cloud:
// Dockerfiles (docker/), Kubernetes manifests for GKE (k8s/) and Terraform
// (terraform/). It has no code of its own; its test checks that the
// manifests decode strictly into the Kubernetes API types, that the
// Terraform parses and declares what the manifests rely on, and that the
// images run as non-root from pinned bases.
package deploy
