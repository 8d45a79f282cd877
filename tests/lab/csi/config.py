"""The controller's cloud configuration, shaped like the driver's ``azure.json`` cloud config.

The real driver reads ``/etc/kubernetes/azure.json`` (cloud-provider-azure's format): tenant, client
id and secret, or ``useManagedIdentityExtension`` with ``userAssignedIdentityID`` (the client id of
the node's identity whose token IMDS gives, as AKS configures its managed driver with the kubelet
identity; empty: the only identity the node has), subscription, the resource group of the nodes and the location. The lab adds the
custom-cloud endpoints of the ARM emulator. A JSON file given with ``--config`` may hold::

    {"tenantId": "...", "aadClientId": "...", "aadClientSecret": "...", "subscriptionId": "...",
     "useManagedIdentityExtension": true, "userAssignedIdentityID": "<kubelet identity client id>",
     "resourceGroup": "MC_rg_cluster_westeurope", "location": "westeurope",
     "resourceManagerEndpoint": "https://127.0.0.1:PORT", "activeDirectoryAuthorityHost": "https://127.0.0.1:PORT",
     "caBundle": "/path/ca-bundle.pem"}

With the managed identity, azure-identity reaches IMDS at ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` (the
lab's IMDS listener) instead of 169.254.169.254, and the client secret is not used.

Whatever the file leaves out comes from the environment ``.lab/env`` exports: ``AZURE_TENANT_ID``
(or ``AZURE_TENANT``), ``AZURE_CLIENT_ID``, ``AZURE_CLIENT_SECRET`` (or ``AZURE_SECRET``),
``AZURE_SUBSCRIPTION_ID``, ``AZURE_CLOUD_ENVIRONMENT`` (the emulator's base URL, used as the ARM
endpoint), ``AZURE_AUTHORITY_HOST``, ``REQUESTS_CA_BUNDLE``, and ``AZURE_RESOURCE_GROUP`` /
``AZURE_LOCATION`` for the node resource group and location.
"""

import json
import os
from dataclasses import dataclass

# config file key -> (attribute, environment variables tried in order)
FIELDS = {
    "tenantId": ("tenant_id", ("AZURE_TENANT_ID", "AZURE_TENANT")),
    "aadClientId": ("client_id", ("AZURE_CLIENT_ID",)),
    "aadClientSecret": ("client_secret", ("AZURE_CLIENT_SECRET", "AZURE_SECRET")),
    "subscriptionId": ("subscription_id", ("AZURE_SUBSCRIPTION_ID",)),
    "resourceGroup": ("resource_group", ("AZURE_RESOURCE_GROUP",)),
    "location": ("location", ("AZURE_LOCATION",)),
    "resourceManagerEndpoint": ("arm_endpoint", ("AZURE_CLOUD_ENVIRONMENT",)),
    "activeDirectoryAuthorityHost": ("authority_host", ("AZURE_AUTHORITY_HOST",)),
    "caBundle": ("ca_bundle", ("REQUESTS_CA_BUNDLE",)),
    "userAssignedIdentityID": ("user_assigned_identity_id", ()),
}
CREDENTIALS = ("tenant_id", "client_id", "client_secret", "subscription_id", "arm_endpoint", "authority_host")
CLUSTER = ("resource_group", "location")


class ConfigError(ValueError):
    """The configuration is incomplete or malformed."""


@dataclass
class CloudConfig:  # pylint: disable=too-many-instance-attributes
    """What the controller needs to reach ARM and where the cluster's nodes live."""

    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    subscription_id: str = ""
    resource_group: str = ""
    location: str = ""
    arm_endpoint: str = ""
    authority_host: str = ""
    ca_bundle: str = ""
    use_managed_identity: bool = False
    user_assigned_identity_id: str = ""


def load(path=None, environ=None, required=CREDENTIALS + CLUSTER, **overrides):
    """Read the file (when given and present, or required), fill the gaps from the environment, apply non-empty ``overrides``."""
    environ = os.environ if environ is None else environ
    values = {}
    if path and (os.path.exists(path) or "resource_group" in required):
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read cloud config {path}: {error}") from error
        if not isinstance(values, dict):
            raise ConfigError(f"cloud config {path} must be a JSON object")
    config = CloudConfig()
    for key, (attribute, variables) in FIELDS.items():
        value = values.get(key) or next((environ[name] for name in variables if environ.get(name)), "")
        setattr(config, attribute, str(value).strip())
    config.use_managed_identity = values.get("useManagedIdentityExtension") is True
    for attribute, value in overrides.items():
        if value:
            setattr(config, attribute, value)
    if config.use_managed_identity:  # the node's identity stands in for the service principal
        required = tuple(attribute for attribute in required if attribute not in ("client_id", "client_secret"))
    missing = [attribute for attribute in required if not getattr(config, attribute)]
    if missing:
        raise ConfigError(f"cloud config lacks {', '.join(missing)} (see lab.csi.config for the file keys and environment variables)")
    for attribute in ("arm_endpoint", "authority_host"):
        if not getattr(config, attribute).startswith("https://"):
            raise ConfigError(f"{attribute} must be an https URL, not {getattr(config, attribute)!r}")
        setattr(config, attribute, getattr(config, attribute).rstrip("/"))
    return config


class LiveConfig:
    """A cloud config whose file may appear or change while the controller runs.

    AKS writes a cluster's cloud config when it creates the cluster and its managed CSI driver
    reads it from there; in the lab the bridge writes it for the cluster the lab backs, so the
    controller starts before any cluster exists and re-reads the file whenever it changes. The
    credentials must be there at start; the node resource group and location only when used.
    """

    def __init__(self, path, environ=None, **overrides):
        self.path = path
        self.environ = environ
        self.overrides = overrides
        self._stamp = None
        self._config = load(path, environ, required=CREDENTIALS, **overrides)

    def current(self):
        """The configuration as the file says now."""
        try:
            stamp = os.stat(self.path).st_mtime_ns if self.path else None
        except FileNotFoundError:
            stamp = None
        if stamp is not None and stamp != self._stamp:
            self._config = load(self.path, self.environ, required=CREDENTIALS, **self.overrides)
            self._stamp = stamp
        return self._config

    def __getattr__(self, name):
        value = getattr(self.current(), name)
        if name in CLUSTER and not value:
            raise ConfigError(f"the cloud config has no {name} yet ({self.path or 'no --config'}): no AKS cluster backs the lab")
        return value
