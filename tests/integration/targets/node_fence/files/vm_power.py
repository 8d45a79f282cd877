"""vm_power.py deallocate|start|power_off PROVIDER_ID: power operation on the scale-set VM behind a node (lab SDK call)."""

import os
import re
import sys

from azure.identity import ClientSecretCredential
from azure.mgmt.compute import ComputeManagementClient


def main(action, provider_id):
    pattern = r"azure:///subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft.Compute/virtualMachineScaleSets/([^/]+)/virtualMachines/(\d+)$"
    match = re.match(pattern, provider_id, re.IGNORECASE)
    if not match:
        sys.exit("not a scale-set providerID: %s" % provider_id)
    subscription, group, vmss, instance = match.groups()
    base = os.environ["AZURE_CLOUD_ENVIRONMENT"]
    credential = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"],
                                        authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)
    client = ComputeManagementClient(credential, subscription, base_url=base, credential_scopes=[base + "/.default"], polling_interval=1)
    getattr(client.virtual_machine_scale_set_vms, "begin_" + action)(group, vmss, instance).result()
    print("%s %s" % (action, provider_id))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
