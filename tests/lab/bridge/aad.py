"""The cluster-admin binding AKS keeps for the admin groups of a cluster with Entra ID integration.

AKS binds the groups of ``aadProfile.adminGroupObjectIDs`` to the ``cluster-admin`` ClusterRole in the
ClusterRoleBinding ``aks-cluster-admin-binding-aad`` (its add-on manager reconciles it: a change of the groups
replaces the subjects, and without admin groups there is no binding).
"""

from __future__ import annotations

import logging

from kubernetes.client.exceptions import ApiException

BINDING = "aks-cluster-admin-binding-aad"
RBAC_GROUP = "rbac.authorization.k8s.io"

log = logging.getLogger("lab.bridge.aad")


def admin_binding(groups: list) -> dict:
    """The ClusterRoleBinding that makes the admin groups cluster admins."""
    return {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": BINDING, "labels": {"addonmanager.kubernetes.io/mode": "Reconcile", "kubernetes.io/cluster-service": "true"}},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": group} for group in groups],
    }


class AdminGroups:  # pylint: disable=too-few-public-methods
    """Keeps ``aks-cluster-admin-binding-aad`` in step with the backed cluster's admin groups."""

    def __init__(self, rbac):
        self.rbac = rbac
        self.applied = None  # the groups last written (None: not known yet, as after a start)

    def reconcile(self, cluster) -> None:
        """Create, replace or delete the binding when the admin groups differ from what was last applied."""
        groups = sorted((cluster or {}).get("adminGroupObjectIDs") or [])
        if groups == self.applied:
            return
        if groups:
            self._apply(admin_binding(groups))
        else:
            try:
                self.rbac.delete_cluster_role_binding(BINDING)
            except ApiException as exc:
                if exc.status != 404:
                    raise
        log.info("admin groups bound to cluster-admin: %s", groups or "none")
        self.applied = groups

    def _apply(self, body: dict) -> None:
        try:
            self.rbac.replace_cluster_role_binding(BINDING, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.rbac.create_cluster_role_binding(body)
