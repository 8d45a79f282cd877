"""The name AKS gives a scale-set instance, as its computer name and as its Kubernetes node name.

``<scale set name><instance id in base 36, six digits>``: ``aks-nodepool1-12345678-vmss00000a`` is
instance 10 of ``aks-nodepool1-12345678-vmss``. The emulator names its VMs' computers so, the
bridge names the Nodes so, and the CSI driver finds a node's VM from it.
"""

import re

NODE_NAME = re.compile(r"^(?P<vmss>[a-z0-9][-a-z0-9]*vmss)(?P<instance>[0-9a-z]{6})$")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def node_name(vmss, instance_id):
    """The name of instance ``instance_id`` of scale set ``vmss``."""
    number, text = int(instance_id), ""
    while True:
        number, remainder = divmod(number, 36)
        text = DIGITS[remainder] + text
        if not number:
            return vmss + text.rjust(6, "0")


def vm_of_node(name):
    """(scale set name, instance id) of an AKS node name, or None when the name is not one."""
    found = NODE_NAME.match((name or "").lower())
    if not found:
        return None
    return found["vmss"], str(int(found["instance"], 36))
