"""StorageClass and VolumeSnapshotClass parameters, read the way the Azure Disk CSI driver reads them.

Mirrored behaviour:
- keys are case-insensitive (``skuName`` = ``skuname``); an unknown key is refused;
- ``skuName`` (alias ``storageAccountType``) takes the Azure SKU names exactly, default
  ``StandardSSD_LRS``; ``cachingMode`` None / ReadOnly / ReadWrite, default ReadOnly (None for
  shared disks and for PremiumV2 / Ultra disks, which support nothing else); ``fsType`` ext4 (default),
  ext3, ext2, xfs, btrfs; ``tags`` as ``k=v,k2=v2``; ``resourceGroup``; ``maxShares`` >= 1;
  ``location``; ``networkAccessPolicy``; ``DiskIOPSReadWrite`` / ``DiskMBpsReadWrite``;
- the provisioner's ``--extra-create-metadata`` keys become the driver's tags
  ``kubernetes.io-created-for-pv-name`` / ``-pvc-name`` / ``-pvc-namespace``; every disk gets
  ``k8s-azure-created-by: kubernetes-azure-dd`` as cloud-provider-azure tags it;
- snapshot classes: ``incremental`` (default true), ``resourceGroup``, ``tags`` (the snapshotter's
  ``csi.storage.k8s.io/*`` metadata keys are ignored; cross-region ``location`` is not supported).
"""

from dataclasses import dataclass, field

DISK_SKUS = ("Standard_LRS", "Premium_LRS", "StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS", "StandardSSD_ZRS", "PremiumV2_LRS")
ZRS_SKUS = ("Premium_ZRS", "StandardSSD_ZRS")
CACHE_NONE_ONLY_SKUS = ("UltraSSD_LRS", "PremiumV2_LRS")
DEFAULT_SKU = "StandardSSD_LRS"
CACHING_MODES = ("None", "ReadOnly", "ReadWrite")
FS_TYPES = ("ext4", "ext3", "ext2", "xfs", "btrfs")
NETWORK_ACCESS_POLICIES = ("AllowAll", "DenyAll", "AllowPrivate")
CREATED_BY_TAG = ("k8s-azure-created-by", "kubernetes-azure-dd")
METADATA_TAGS = {
    "csi.storage.k8s.io/pv/name": "kubernetes.io-created-for-pv-name",
    "csi.storage.k8s.io/pvc/name": "kubernetes.io-created-for-pvc-name",
    "csi.storage.k8s.io/pvc/namespace": "kubernetes.io-created-for-pvc-namespace",
}
# Keys the driver accepts without using them for a managed disk.
IGNORED_KEYS = ("zoned", "kind", "incremental", "perfprofile", "enablebursting", "logicalsectorsize", "enableasyncattach")


@dataclass
class DiskParameters:  # pylint: disable=too-many-instance-attributes
    """A StorageClass's parameters, normalised."""

    sku: str = DEFAULT_SKU
    caching_mode: str = ""
    fs_type: str = "ext4"
    tags: dict = field(default_factory=lambda: dict([CREATED_BY_TAG]))
    resource_group: str = ""
    location: str = ""
    max_shares: int = 1
    network_access_policy: str = "AllowAll"
    iops: int = 0
    mbps: int = 0


@dataclass
class SnapshotParameters:
    """A VolumeSnapshotClass's parameters, normalised."""

    incremental: bool = True
    resource_group: str = ""
    tags: dict = field(default_factory=dict)


def parse_tags(text):
    """``k=v,k2=v2`` as a dict (ValueError when a pair has no ``=`` or no key)."""
    tags = {}
    for pair in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Tags '{text}' are invalid, the format should be like: 'key1=value1,key2=value2'")
        tags[key.strip()] = value.strip()
    return tags


def _choice(value, allowed, what):
    if value not in allowed:
        raise ValueError(f"azureDisk - {value} is not a supported {what}. Supported values are {', '.join(allowed)}")
    return value


def _positive(value, what):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"parse {value} failed: {what} must be a positive integer")
    return number


def max_shares(attributes):
    """``maxShares`` of a parameter or volume context map (1 when absent)."""
    for key, value in (attributes or {}).items():
        if key.lower() == "maxshares":
            return _positive(value, "maxShares")
    return 1


def parse_disk_parameters(parameters):
    """A StorageClass's parameters (ValueError on an invalid key or value)."""
    result = DiskParameters()
    handlers = {
        "skuname": lambda v: setattr(result, "sku", _choice(v, DISK_SKUS, "sku/storageaccounttype")),
        "storageaccounttype": lambda v: setattr(result, "sku", _choice(v, DISK_SKUS, "sku/storageaccounttype")),
        "cachingmode": lambda v: setattr(result, "caching_mode", _choice(v, CACHING_MODES, "cachingmode")),
        "fstype": lambda v: setattr(result, "fs_type", _choice(v.lower(), FS_TYPES, "fsType")),
        "tags": lambda v: result.tags.update(parse_tags(v)),
        "resourcegroup": lambda v: setattr(result, "resource_group", v),
        "location": lambda v: setattr(result, "location", v),
        "maxshares": lambda v: setattr(result, "max_shares", _positive(v, "maxShares")),
        "networkaccesspolicy": lambda v: setattr(result, "network_access_policy", _choice(v, NETWORK_ACCESS_POLICIES, "NetworkAccessPolicy")),
        "diskiopsreadwrite": lambda v: setattr(result, "iops", _positive(v, "DiskIOPSReadWrite")),
        "diskmbpsreadwrite": lambda v: setattr(result, "mbps", _positive(v, "DiskMBpsReadWrite")),
    }
    for key, value in (parameters or {}).items():
        lowered = key.lower()
        if lowered in handlers:
            handlers[lowered](value)
        elif lowered in METADATA_TAGS:
            result.tags[METADATA_TAGS[lowered]] = value
        elif lowered not in IGNORED_KEYS:
            raise ValueError(f"invalid parameter {key} in storage class")
    result.caching_mode = caching_mode(result.caching_mode, result.sku, result.max_shares)
    return result


def caching_mode(requested, sku, shares):
    """The host caching a disk gets (ValueError when its SKU does not support the requested one)."""
    if sku in CACHE_NONE_ONLY_SKUS:
        if requested not in ("", "None"):
            raise ValueError(f"azureDisk - cachingMode {requested} is not supported for {sku}: only None is")
        return "None"
    return requested or ("None" if shares > 1 else "ReadOnly")


def publish_caching(volume_context):
    """The caching mode ControllerPublishVolume attaches with, from the volume context the provisioner kept."""
    context = {key.lower(): value for key, value in (volume_context or {}).items()}
    sku = context.get("skuname") or context.get("storageaccounttype") or DEFAULT_SKU
    requested = context.get("cachingmode", "")
    _choice(requested or "None", CACHING_MODES, "cachingmode")
    return caching_mode(requested, sku, max_shares(volume_context))


def parse_snapshot_parameters(parameters):
    """A VolumeSnapshotClass's parameters (ValueError on an invalid key)."""
    result = SnapshotParameters()
    for key, value in (parameters or {}).items():
        lowered = key.lower()
        if lowered == "incremental":
            result.incremental = value.lower() != "false"
        elif lowered == "resourcegroup":
            result.resource_group = value
        elif lowered == "tags":
            result.tags.update(parse_tags(value))
        elif lowered == "location":
            raise ValueError("AzureDisk - cross-region snapshots (location) are not supported by the lab controller")
        elif not lowered.startswith("csi.storage.k8s.io/"):
            raise ValueError(f"AzureDisk - invalid option {key} in VolumeSnapshotClass")
    return result
