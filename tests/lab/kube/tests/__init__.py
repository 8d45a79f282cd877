"""Tests of the lab's Kubernetes control plane."""
