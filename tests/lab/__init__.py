"""The offline lab (ARM emulator, Kubernetes control plane, bridge); never shipped in the built collection."""
