"""The lab's Kubernetes control plane: building the binaries (build.sh) and starting/stopping them."""
