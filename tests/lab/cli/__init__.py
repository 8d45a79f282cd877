"""The lab's one command line: ``python -m lab VERB`` (with ``PYTHONPATH=tests``).

Every verb but ``up`` reads the running lab from ``$LAB_DIR`` (default ``.lab/`` at the repo root)
and the ``env`` file ``up`` wrote there; nothing else needs exporting.

  up                          start the ARM emulator and (unless LAB_KUBE=0) the Kubernetes side; write $LAB_DIR/env
  down [--keep]               stop exactly what 'up' started; without --keep remove the lab state
  status                      whether the emulator runs (exit 1 when it does not)
  restart azure|apiserver [--kill] [--down-for SECONDS]
                              stop the ARM emulator or the kube-apiserver (SIGTERM, SIGKILL with --kill) and start it
                              again on the same port with the same state; prints {"server", "pid", "down_seconds", "ready_seconds"}
  vars [--output FILE]        the lab's settings for Ansible as JSON (lab_azure, lab_env, lab_dir, lab_python, lab_pythonpath)
  cat NAMESPACE/PVC           what the writer put on a claim's disk
  data NAMESPACE/PVC [--since N]
                              {"lines", "first", "last", "max_gap", "gap_at"} of those lines; max_gap: the longest pause
                              (seconds, 0.1) between two lines from line N on, gap_at: the line before it
  power ACTION PROVIDER_ID    deallocate|start|power_off|restart the scale-set VM behind a node; prints {"action", "vm"}
  disk create GROUP NAME --size GB [--sku SKU] [--zone Z] [--location L]
                              an empty managed disk; prints its id
  requests mark               the sequence number of the last request the emulator logged
  requests count SEQ [--record FILE MODULE PHASE]
                              {"reads", "writes", "write_attempts", "writes_list"} of the ARM calls after SEQ
  fault add JSON | fault clear
                              add a fault rule (429, 500, 503, reset, lro-fail, lro-hang) / remove them all
  config [JSON]               the runtime settings (onlineResize, principalReplicationDelaySeconds, ...), changed first
  profile [fast|realistic] [--set KIND=SECONDS ...]
                              the latency profile, switched first (--set: operation durations of its own)
  principal NAME [--role ROLE]... [--scope SCOPE] [--secret]
                              add a service principal with built-in roles; prints its objectId (--secret: its sign-in)
  operations [--since EPOCH]  the long-running operations that ended, as JSON
  upgrades                    {"runs", "instances"}: the AKS pool upgrades in progress on the cluster the lab backs (step,
                              the batch of nodes, surge nodes) and each instance's kubelet version and node image
  latency EPOCH... [--record FILE]
                              for each module return time, the seconds since the last operation ended before it

Environment for 'up': LAB_KUBE=0 (emulator only), LAB_PROFILE=fast|realistic, LAB_AZURE_PORT.
"""

import argparse

from . import admin, compute, control, data, settings
from .labdir import LabDir


def main(argv=None):
    """Parse the verb and run it; its return value is the exit status."""
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in (control, settings, data, compute, admin):
        module.add_verbs(verbs)
    arguments = parser.parse_args(argv)
    return arguments.run(LabDir(), arguments) or 0
