#!/usr/bin/python
# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: resource_group
short_description: Create, tag or delete an Azure resource group
version_added: 0.1.0
description:
  - Makes sure an Azure resource group exists with the given location and tags, or is gone.
  - Deleting waits until Azure has deleted the group and everything in it (the cascade), within O(timeout).
  - A group that still holds resources is only deleted with O(force_delete_nonempty=true).
notes:
  - ARM has no conditional create for resource groups. The group is read once more right before it is created, so a run
    that starts after another made it finds it and compares; but when two runs create the same group at the same moment,
    both PUTs succeed, and the later one reports RV(found_existing) and C(changed=false), yet its tags replaced those of the
    earlier one. Give runs that may race the same tags.
author:
  - kubedisk.aks maintainers (@kubedisk)
options:
  name:
    description: Name of the resource group (1-90 letters, digits, C(-), C(_), C(.), C(()); not ending in C(.)).
    type: str
    required: true
  state:
    description: V(present) creates or updates the group, V(absent) deletes it.
    type: str
    default: present
    choices: [present, absent]
  location:
    description:
      - Azure region, for example V(westeurope). Required to create the group.
      - The location of an existing group cannot change; a different value fails before any change.
    type: str
  force_delete_nonempty:
    description:
      - With O(state=absent), delete the group even when it still contains resources (they are deleted with it).
      - Without it, a non-empty group is left alone and the task fails naming what is inside.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for Azure, retries and the deletion cascade included.
    default: 1200
extends_documentation_fragment:
  - kubedisk.aks.azure
  - kubedisk.aks.azure.attributes
  - kubedisk.aks.azure.tags
"""

EXAMPLES = r"""
- name: A resource group for the cluster
  kubedisk.aks.resource_group:
    name: rg-stateful
    location: westeurope
    tags:
      owner: platform

- name: Delete it and everything in it
  kubedisk.aks.resource_group:
    name: rg-stateful
    state: absent
    force_delete_nonempty: true
"""

RETURN = r"""
resource_group:
  description: The resource group after the task (empty when absent).
  returned: always
  type: dict
  contains:
    id:
      description: Resource id.
      type: str
      sample: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-stateful
    name:
      description: Name.
      type: str
      sample: rg-stateful
    location:
      description: Region.
      type: str
      sample: westeurope
    tags:
      description: Tags.
      type: dict
      sample: {owner: platform}
    provisioning_state:
      description: Provisioning state reported by Azure.
      type: str
      sample: Succeeded
found_existing:
  description:
    - True when another run created the resource group between this run's first read and its create (at the last read before the
      write, or because Azure refused the create for it); this run then compared it with what was asked instead of
      creating it again, and a warning says so. C(changed) is false unless it differed in something that can be updated.
  returned: when another run created it meanwhile
  type: bool
  sample: true
"""

import itertools
from functools import partial

from ansible_collections.kubedisk.aks.plugins.module_utils.azure_diff import same_text
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_ids import valid_resource_group
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_module import AzureModule
from ansible_collections.kubedisk.aks.plugins.module_utils.azure_tags import TAGS_SPEC, tags_after


def facts(group):
    if group is None:
        return {}
    props = getattr(group, "properties", None)
    return {
        "id": group.id,
        "name": group.name,
        "location": group.location,
        "tags": dict(group.tags or {}),
        "provisioning_state": getattr(props, "provisioning_state", None),
    }


def validate(module):
    params = module.params
    if not valid_resource_group(params["name"]):
        module.fail_json(msg="name %r is not a valid resource group name: 1-90 letters, digits, '-', '_', '.', '(' or ')', "
                             "not ending in '.'" % params["name"])


def present(module, client, current, result):
    params = module.params
    name = params["name"]
    if current is None:
        if not params["location"]:
            module.fail_json(msg="location is required to create resource group %s (e.g. location: westeurope)" % name)
        module.check_location(params["location"])
        after = {"name": name, "location": params["location"], "tags": dict(params["tags"] or {})}
        if not module.check_mode:
            made, created = module.create_synchronous("creating resource group %s" % name, partial(client.resource_groups.get, name),
                                                      client.resource_groups.create_or_update, name,
                                                      {"location": params["location"], "tags": params["tags"] or {}})
            if not created:
                module.found_existing(result, "resource group %s" % name)
                changed, _before, after = present(module, client, made, result)
                return changed, {}, after
            after = facts(made)
        return True, {}, after
    before = facts(current)
    if params["location"] and not same_text(params["location"].replace(" ", ""), current.location):
        how = "was made meanwhile by another run" if result.get("found_existing") else "is"
        module.fail_json(msg="resource group %s %s in %s; its location cannot change to %s. Use another group name or "
                             "delete this one first." % (name, how, current.location, params["location"]))
    tags = tags_after(current.tags, params["tags"], params["append_tags"])
    if tags is None or tags == dict(current.tags or {}):
        return False, before, before
    after = dict(before, tags=tags)
    if not module.check_mode:
        updated = module.call("updating the tags of resource group %s" % name, client.resource_groups.update, name, {"tags": tags})
        after = facts(updated)
    return True, before, after


def absent(module, client, current):
    params = module.params
    name = params["name"]
    if current is None:
        return False, {}, {}
    before = facts(current)
    if not params["force_delete_nonempty"]:
        inside = module.call("listing the resources in resource group %s" % name,
                             lambda: [r.id for r in itertools.islice(client.resources.list_by_resource_group(name, top=5), 5)])
        if inside:
            module.fail_json(msg="resource group %s still contains resources (%s%s); set force_delete_nonempty: true to "
                                 "delete them with it" % (name, ", ".join(inside[:5]), ", ..." if len(inside) >= 5 else ""),
                             resources=inside)
    if not module.check_mode:
        module.begin("deleting resource group %s" % name, client.resource_groups.begin_delete, name)
    return True, before, {}


def main():
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        "location": {"type": "str"},
        "force_delete_nonempty": {"type": "bool", "default": False},
    }
    argument_spec.update(TAGS_SPEC)
    module = AzureModule(argument_spec, default_timeout=1200)
    validate(module)
    client = module.client("resource")
    name = module.params["name"]
    current = module.current("reading resource group %s" % name, client.resource_groups.get, name)
    result = {}
    if module.params["state"] == "present":
        changed, before, after = present(module, client, current, result)
    else:
        changed, before, after = absent(module, client, current)
    result.update(changed=changed, resource_group=after)
    module.exit_with_diff(before, after, **result)


if __name__ == "__main__":
    main()
