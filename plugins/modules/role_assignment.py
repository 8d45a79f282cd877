#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: role_assignment
short_description: Grant or revoke an Azure role, for example to an AKS cluster's kubelet identity
version_added: 0.1.0
description:
  - Makes sure a principal holds (or does not hold) a role at a scope.
  - The role is given by name or GUID and resolved through the role definitions at the scope. The principal is
    given by object id, or as the kubelet identity or the cluster identity of an AKS cluster. The scope is given
    by id, or as the node resource group of an AKS cluster.
  - Idempotent by listing the assignments at the scope filtered by principal (no subscription-wide scan). A new
    assignment gets a deterministic name (a UUID derived from scope, principal and role), so reruns and parallel
    runs converge; C(RoleAssignmentExists) counts as present. A run that finds the assignment made meanwhile by
    another run reports it with RV(found_existing) and C(changed=false).
  - A principal that the directory does not know yet (C(PrincipalNotFound), replication delay after it was created)
    is retried with backoff within O(timeout).
  - O(state=absent) removes exactly the assignment of that role to that principal at that scope, not inherited ones.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  state:
    description: V(present) grants the role, V(absent) revokes it.
    type: str
    default: present
    choices: [present, absent]
  role:
    description:
      - Role name (V(Contributor), V(Disk Snapshot Contributor)), role definition GUID, or role definition id.
    type: str
    required: true
  principal_id:
    description: Object id of the user, group or service principal.
    type: str
  kubelet_identity_of:
    description: The principal is the kubelet identity of this AKS cluster.
    type: dict
    suboptions: &cluster_ref
      name:
        description: Cluster name.
        type: str
        required: true
      resource_group:
        description: Resource group of the cluster.
        type: str
        required: true
  cluster_identity_of:
    description: The principal is the (system or user-assigned) cluster identity of this AKS cluster.
    type: dict
    suboptions: *cluster_ref
  principal_type:
    description:
      - Type of the principal; lets Azure accept a principal that is not yet replicated.
      - Defaults to V(ServicePrincipal) for O(kubelet_identity_of) and O(cluster_identity_of).
    type: str
    choices: [User, Group, ServicePrincipal, ForeignGroup, Device]
  scope:
    description:
      - Scope id, for example C(/subscriptions/<id>/resourceGroups/<rg>) or a resource id.
    type: str
  node_resource_group_of:
    description: The scope is the node resource group of this AKS cluster.
    type: dict
    suboptions: *cluster_ref
  timeout:
    description: Seconds to wait in total, including retries of C(PrincipalNotFound).
    default: 300
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
"""

EXAMPLES = r"""
- name: Let the kubelet identity manage disks in the node resource group
  kubedisk.aks.role_assignment:
    role: Virtual Machine Contributor
    kubelet_identity_of:
      name: aks-stateful
      resource_group: rg-stateful
    node_resource_group_of:
      name: aks-stateful
      resource_group: rg-stateful

- name: Disk snapshots in another resource group, by role GUID
  kubedisk.aks.role_assignment:
    role: 7efff54f-a5b4-42b5-a1c5-5411624893ce
    principal_id: 3aac3059-e424-4cad-b631-5a25f70ba73d
    principal_type: ServicePrincipal
    scope: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backups

- name: Revoke it
  kubedisk.aks.role_assignment:
    state: absent
    role: Disk Snapshot Contributor
    principal_id: 3aac3059-e424-4cad-b631-5a25f70ba73d
    scope: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backups
"""

RETURN = r"""
assignment:
  description: The role assignment after the task (predicted in check mode; empty when absent).
  returned: always
  type: dict
  contains:
    id:
      description: Resource id of the assignment.
      type: str
    name:
      description: Its name (a GUID; derived from scope, principal and role when this module created it).
      type: str
    scope:
      description: Scope.
      type: str
    role_definition_id:
      description: Role definition id.
      type: str
    role_name:
      description: Role name.
      type: str
      sample: Virtual Machine Contributor
    principal_id:
      description: Principal object id.
      type: str
    principal_type:
      description: Principal type.
      type: str
      sample: ServicePrincipal
found_existing:
  description:
    - True when another run created the assignment between this run's first read and its create (at the last read before the
      write, or because Azure refused the create for it); this run then compared it with what was asked instead of
      creating it again, and a warning says so. C(changed) is false unless it differed in something that can be updated.
  returned: when another run created it meanwhile
  type: bool
  sample: true
"""

import io
import json

from ansible_collections.kubedisk.aks.plugins.module_utils.aks_facts import cluster_facts, principal_of
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import (
    RESOURCE_REF_SPEC, assignment_name, is_guid, is_role_definition_id, parse_resource_id, resource_id, same_id, trailing_guid,
    valid_cluster_name, valid_role_name)
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_models import to_rest
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule


def valid_scope(scope):
    parsed = parse_resource_id(scope)
    if parsed:
        return is_guid(parsed.get("subscription"))
    return scope.lower().startswith("/providers/microsoft.management/managementgroups/") and len(scope.strip("/").split("/")) == 4


def validate(module):
    params = module.params
    if params["principal_id"] is not None and not is_guid(params["principal_id"]):
        module.fail_json(msg="principal_id %r is not an object id (a GUID); give the principal's object id, not its name "
                             "or application id" % params["principal_id"])
    if params["scope"] is not None and not valid_scope(params["scope"]):
        module.fail_json(msg="scope %r is not a scope id: use /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<rg>, "
                             "a resource id or a management group id" % params["scope"])
    role = params["role"]
    if not role.strip():
        module.fail_json(msg="role is empty: give a role name such as Contributor, or a role definition GUID")
    if not (is_guid(role) or is_role_definition_id(role) or valid_role_name(role)):
        module.fail_json(msg="role %r is neither a role name (such as Contributor), a role definition GUID nor a full role "
                             "definition id (/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<guid> or "
                             "/providers/Microsoft.Authorization/roleDefinitions/<guid>)" % role)
    for option in ("kubelet_identity_of", "cluster_identity_of", "node_resource_group_of"):
        ref = params[option]
        if ref and not valid_cluster_name(ref["name"]):
            module.fail_json(msg="%s.name %r is not a valid AKS cluster name" % (option, ref["name"]))


class Resolver(object):
    """Clusters, principal, scope and role, each read at most once."""

    def __init__(self, module):
        self.module = module
        self.clusters = {}

    def cluster(self, ref):
        key = (ref["resource_group"].lower(), ref["name"].lower())
        if key not in self.clusters:
            client = self.module.client("containerservice")
            found = self.module.get_or_none("reading cluster %s" % ref["name"], client.managed_clusters.get,
                                            ref["resource_group"], ref["name"])
            if found is None:
                self.module.fail_json(msg="cluster %s not found in resource group %s (check the name, resource group and "
                                          "subscription)" % (ref["name"], ref["resource_group"]))
            self.clusters[key] = cluster_facts(found)
        return self.clusters[key]

    def principal(self):
        params = self.module.params
        if params["principal_id"]:
            return params["principal_id"], params["principal_type"]
        option, which = ("kubelet_identity_of", "kubelet") if params["kubelet_identity_of"] else ("cluster_identity_of", "cluster")
        facts = self.cluster(params[option])
        principal = principal_of(facts, which)
        if not principal:
            self.module.fail_json(msg="cluster %s has no %s identity with an object id (identity type %s); give principal_id "
                                      "instead" % (facts["name"], which, (facts.get("identity") or {}).get("type")))
        return principal, params["principal_type"] or "ServicePrincipal"

    def scope(self):
        params = self.module.params
        if params["scope"]:
            return params["scope"].rstrip("/")
        facts = self.cluster(params["node_resource_group_of"])
        if not facts.get("node_resource_group"):
            self.module.fail_json(msg="cluster %s reports no node resource group yet" % facts["name"])
        return resource_id(subscription=self.module.subscription_id, resource_group=facts["node_resource_group"])

    def role(self, scope):
        """(role definition id, role name) at ``scope``; fails naming the role when it is unknown.

        A GUID or id is read too, though the PUT would refuse an unknown one (RoleDefinitionDoesNotExist): so that a
        wrong role fails before any write and in check mode as well, and the result can name the role.
        """
        module = self.module
        role = module.params["role"]
        client = module.client("authorization")
        if is_guid(role) or is_role_definition_id(role):
            guid = trailing_guid(role)
            found = module.get_or_none("reading role definition %s" % guid, client.role_definitions.get, scope.lstrip("/"), guid)
            if found is None:
                module.fail_json(msg="role definition %s does not exist at scope %s; check the GUID (built-in roles have the "
                                     "same GUID everywhere) or give the role's name" % (guid, scope))
            found = to_rest(found)
            return found["id"], (found.get("properties") or {}).get("roleName")
        escaped = role.replace("'", "''")
        found = module.call("looking up role %s" % role,
                            lambda: [to_rest(r) for r in client.role_definitions.list(scope.lstrip("/"), filter="roleName eq '%s'" % escaped)])
        found = [r for r in found if ((r.get("properties") or {}).get("roleName") or "").lower() == role.lower()] or found
        if not found:
            module.fail_json(msg="role %r does not exist at scope %s; use the exact role name (e.g. 'Virtual Machine "
                                 "Contributor', 'Disk Snapshot Contributor') or its GUID" % (role, scope))
        if len(found) > 1:
            module.fail_json(msg="role name %r matches %d role definitions at scope %s; give the GUID of the one you mean: %s"
                                 % (role, len(found), scope, ", ".join(trailing_guid(r["id"]) for r in found)))
        return found[0]["id"], (found[0].get("properties") or {}).get("roleName")


def facts(assignment, role_name=None):
    if not assignment:
        return {}
    props = assignment.get("properties") or {}
    return {
        "id": assignment.get("id"),
        "name": assignment.get("name"),
        "scope": props.get("scope"),
        "role_definition_id": props.get("roleDefinitionId"),
        "role_name": role_name,
        "principal_id": props.get("principalId"),
        "principal_type": props.get("principalType"),
    }


def matching(assignments, scope, principal, role_id):
    """Assignments exactly at ``scope`` of ``role_id`` to ``principal`` (inherited ones excluded)."""
    guid = trailing_guid(role_id)
    result = []
    for item in assignments:
        props = item.get("properties") or {}
        if (same_id(props.get("scope"), scope) and (props.get("principalId") or "").lower() == principal.lower()
                and trailing_guid(props.get("roleDefinitionId")) == guid):
            result.append(item)
    return result


def list_at_scope(module, client, scope, principal):
    return module.call("listing the role assignments of %s at %s" % (principal, scope),
                       lambda: [to_rest(a) for a in client.role_assignments.list_for_scope(
                           scope.lstrip("/"), filter="principalId eq '%s'" % principal)])


def create(module, client, scope, principal, principal_type, role_id):
    """Create the assignment, retrying PrincipalNotFound (replication delay) within the timeout.

    Returns (assignment, True), or (the assignment found, False) when another run made it meanwhile: Azure answers this
    run's PUT with 409 RoleAssignmentExists (or 200 for the same name) and the assignment is read back.
    """
    name = assignment_name(scope, principal, trailing_guid(role_id))
    body = {"properties": {"roleDefinitionId": role_id, "principalId": principal}}
    if principal_type:
        body["properties"]["principalType"] = principal_type

    def put(**kwargs):
        # raw JSON: the SDK model would otherwise send principalType "User" when none is given
        return module.retry(lambda: client.role_assignments.create(scope.lstrip("/"), name, io.BytesIO(json.dumps(body).encode("utf-8")),
                                                                   content_type="application/json", **kwargs),
                            ("PrincipalNotFound",),
                            "principal %s was not found in the directory within timeout=%d s (a new identity can take "
                            "minutes to replicate: raise timeout; otherwise check the object id)" % (principal, module.timeout))

    def read():
        return next(iter(matching(list_at_scope(module, client, scope, principal), scope, principal, role_id)), None)

    made, created = module.create_synchronous("creating the role assignment %s" % name, read, put)
    return to_rest(made), created


def main():
    argument_spec = {
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "role": {"type": "str", "required": True},
        "principal_id": {"type": "str"},
        "kubelet_identity_of": RESOURCE_REF_SPEC,
        "cluster_identity_of": RESOURCE_REF_SPEC,
        "principal_type": {"type": "str", "choices": ["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"]},
        "scope": {"type": "str"},
        "node_resource_group_of": RESOURCE_REF_SPEC,
    }
    module = AzureModule(
        argument_spec,
        default_timeout=300,
        mutually_exclusive=[("principal_id", "kubelet_identity_of", "cluster_identity_of"), ("scope", "node_resource_group_of")],
        required_one_of=[("principal_id", "kubelet_identity_of", "cluster_identity_of"), ("scope", "node_resource_group_of")],
    )
    validate(module)
    resolver = Resolver(module)
    principal, principal_type = resolver.principal()
    scope = resolver.scope()
    role_id, role_name = resolver.role(scope)
    client = module.client("authorization")
    existing = matching(list_at_scope(module, client, scope, principal), scope, principal, role_id)
    before = facts(existing[0], role_name) if existing else {}
    changed = False
    result = {}
    if module.params["state"] == "present":
        after = before
        if not existing:
            changed = True
            name = assignment_name(scope, principal, trailing_guid(role_id))
            after = {"id": "%s/providers/Microsoft.Authorization/roleAssignments/%s" % (scope, name), "name": name,
                     "scope": scope, "role_definition_id": role_id, "role_name": role_name, "principal_id": principal,
                     "principal_type": principal_type}
            if not module.check_mode:
                made, changed = create(module, client, scope, principal, principal_type, role_id)
                if not changed:
                    module.found_existing(result, "the assignment of role %s to %s at %s" % (role_name, principal, scope))
                after = facts(made, role_name)
    else:
        after = {}
        if existing:
            changed = True
            if not module.check_mode:
                for item in existing:
                    module.get_or_none("deleting role assignment %s" % item["name"], client.role_assignments.delete,
                                       scope.lstrip("/"), item["name"])
    result.update(changed=changed, assignment=after)
    module.exit_with_diff(before, after, **result)


if __name__ == "__main__":
    main()
