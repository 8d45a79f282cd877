"""``power`` and ``disk create``: Microsoft.Compute calls through the Azure SDK against the emulator.

What a test arranges outside the modules under test, done as any Azure client would: power a node's
scale-set VM off or on (an unplanned failure), create a managed disk.
"""

import json
import re

PROVIDER_ID = re.compile(r"azure:///subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<group>[^/]+)/providers/Microsoft.Compute/"
                         r"virtualMachineScaleSets/(?P<vmss>[^/]+)/virtualMachines/(?P<instance>\d+)$", re.IGNORECASE)
POWER_ACTIONS = ("deallocate", "start", "power_off", "restart")


def sdk_client(client_class, exports: dict, subscription: str = ""):
    """An Azure SDK management client of the lab's service principal, built as a custom-cloud user builds it."""
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel  # slow to import, for these verbs only

    base, verify = exports["AZURE_CLOUD_ENVIRONMENT"], exports["REQUESTS_CA_BUNDLE"]
    credential = ClientSecretCredential(exports["AZURE_TENANT_ID"], exports["AZURE_CLIENT_ID"], exports["AZURE_CLIENT_SECRET"],
                                        authority=exports["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True, connection_verify=verify)
    return client_class(credential, subscription or exports["AZURE_SUBSCRIPTION_ID"], base_url=base, credential_scopes=[base + "/.default"],
                        connection_verify=verify, polling_interval=1)


def _compute(exports, subscription=""):
    from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel  # slow to import
    return sdk_client(ComputeManagementClient, exports, subscription)


def power(lab, arguments):
    """Run a power operation on the scale-set VM behind a node's providerID and wait for it."""
    found = PROVIDER_ID.match(arguments.provider_id)
    if not found:
        raise SystemExit(f"lab: not a scale-set providerID: {arguments.provider_id}")
    vms = _compute(lab.exports(), found["subscription"]).virtual_machine_scale_set_vms
    getattr(vms, "begin_" + arguments.action)(found["group"], found["vmss"], found["instance"]).result()
    print(json.dumps({"action": arguments.action, "vm": arguments.provider_id}))


def create_disk(lab, arguments):
    """Create an empty managed disk; print its id."""
    body = {"location": arguments.location, "sku": {"name": arguments.sku},
            "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": arguments.size}}
    if arguments.zone:
        body["zones"] = [arguments.zone]
    disks = _compute(lab.exports()).disks
    print(disks.begin_create_or_update(arguments.group, arguments.name, body).result().id)


def add_verbs(verbs):
    """Register ``power`` and ``disk create``."""
    powering = verbs.add_parser("power", help='power a node\'s scale-set VM (deallocate, start, power_off, restart); print {"action", "vm"}')
    powering.add_argument("action", choices=POWER_ACTIONS, metavar="ACTION")
    powering.add_argument("provider_id", metavar="PROVIDER_ID", help="the node's spec.providerID (azure:///subscriptions/...)")
    powering.set_defaults(run=power)
    disks = verbs.add_parser("disk", help="managed disks").add_subparsers(dest="action", required=True)
    creating = disks.add_parser("create", help="create an empty managed disk; print its id")
    creating.add_argument("group", metavar="GROUP")
    creating.add_argument("name", metavar="NAME")
    creating.add_argument("--size", type=int, required=True, metavar="GB")
    creating.add_argument("--sku", default="Standard_LRS")
    creating.add_argument("--zone", help="availability zone (none: a regional disk)")
    creating.add_argument("--location", default="westeurope")
    creating.set_defaults(run=create_disk)
