"""What ARM and the resource providers refuse in a request's names and tags, for every resource type.

Sources:
- names: Azure's "Naming rules and restrictions for Azure resources" page and the name patterns of
  the REST specs (Azure/azure-rest-api-specs: managedClusters, agentPools); role assignment names
  are GUIDs;
- error codes and messages: the answers ARM and the providers give (``InvalidResourceGroup``,
  ``InvalidParameter`` with target ``agentPoolProfile.name`` or ``name`` from AKS, ``InvalidParameter`` with
  target ``disk.name`` from the disk provider, ``InvalidTagNameCharacters``, ``InvalidTagName``,
  ``InvalidTagValueLength``, ``InvalidTags``).  Where no exact answer is documented the closest
  documented one is used, as the comments on the rules say;
- tags: at most 50 per resource, names 1-512 characters without ``<>%&\\?/`` or control
  characters, values at most 256 characters (storage accounts, with 128-character names, are not
  modelled).

Every name is matched whole: a trailing newline or a control character makes it invalid.
"""

import re
import unicodedata
from dataclasses import dataclass

from ..arm import GUID, ArmError

AKS_NAMING = "Please see https://aka.ms/aks-naming-rules for more details."
MAX_TAGS, MAX_TAG_NAME, MAX_TAG_VALUE = 50, 512, 256
MAX_NODE_RESOURCE_GROUP = 80
TAG_NAME_RESERVED = "<>%&\\?/"


def _provider_parameter(target, aks=False):
    """A provider's 400 ``InvalidParameter`` naming the parameter (AKS adds the link to its naming rules)."""
    suffix = f" {AKS_NAMING}" if aks else ""
    return lambda _name: ArmError(400, "InvalidParameter", f"The value of parameter {target} is invalid.{suffix}", target=target)


def _group_error(name):
    """ARM's ``InvalidResourceGroup``, which lists the invalid characters (a length or a final period: the same code)."""
    invalid = "".join(sorted({char for char in name if not GROUP_CHARACTER.fullmatch(char)}))
    if invalid:
        return ArmError(400, "InvalidResourceGroup", f"The provided resource group name '{name}' has these invalid characters: "
                                                     f"'{invalid}'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.")
    return ArmError(400, "InvalidResourceGroup", f"The provided resource group name '{name}' is invalid: it must have 1-90 characters "
                                                 "and cannot end with a period.")


def _resource_name(what, longest):
    """ARM's generic refusal of a resource name (no provider-specific code is documented for these types)."""
    return lambda name: ArmError(400, "InvalidResourceName", f"The resource name '{name}' is invalid. A {what} name has 3-{longest} "
                                                             "letters, digits, '-' and '_', and starts with a letter or digit.")


def _assignment_error(name):
    return ArmError(400, "InvalidRoleAssignmentId", f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")


@dataclass(frozen=True)
class NameRule:
    """A resource type's valid names (matched whole) and the refusal of any other."""

    pattern: re.Pattern
    refuse: object

    def check(self, name):
        """Raise the type's refusal unless ``name`` is valid."""
        if not self.pattern.fullmatch(name):
            raise self.refuse(name)


# letters and digits of any script, '_', '-', '.', '(' and ')'
GROUP_CHARACTER = re.compile(r"[\w\-.()]")
COMPUTE_NAME = re.compile(r"[A-Za-z0-9]|[A-Za-z0-9][\w.-]{0,78}\w", re.ASCII)

# resource type (lower case) -> its rule
NAME_RULES = {
    "microsoft.resources/resourcegroups": NameRule(re.compile(r"[\w\-.()]{0,89}[\w\-()]"), _group_error),
    "microsoft.containerservice/managedclusters": NameRule(
        re.compile(r"[a-zA-Z0-9]|[a-zA-Z0-9][-_a-zA-Z0-9]{0,61}[a-zA-Z0-9]"),
        # AKS's answer for its cluster-level names (target "name"), as for a too long node resource group
        _provider_parameter("name", aks=True)),
    "microsoft.containerservice/managedclusters/agentpools": NameRule(re.compile(r"[a-z][a-z0-9]{0,11}"),
                                                                      _provider_parameter("agentPoolProfile.name", aks=True)),
    "microsoft.compute/disks": NameRule(COMPUTE_NAME, _provider_parameter("disk.name")),
    "microsoft.compute/snapshots": NameRule(COMPUTE_NAME, _provider_parameter("snapshot.name")),
    "microsoft.managedidentity/userassignedidentities": NameRule(re.compile(r"[A-Za-z0-9][\w-]{2,127}", re.ASCII),
                                                                 _resource_name("user-assigned identity", 128)),
    "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials": NameRule(
        re.compile(r"[A-Za-z0-9][\w-]{2,119}", re.ASCII), _resource_name("federated identity credential", 120)),
    "microsoft.authorization/roleassignments": NameRule(GUID, _assignment_error),
}
DNS_PREFIX = NameRule(re.compile(r"[a-zA-Z0-9]|[a-zA-Z0-9][-a-zA-Z0-9]{0,52}[a-zA-Z0-9]"),
                      # AKS's answer for an invalid parameter; the spec's dnsPrefix pattern (1-54, letters, digits, '-')
                      _provider_parameter("properties.dnsPrefix", aks=True))


def check_name(resource_type, name):
    """Refuse a name the resource type does not allow, as its provider answers."""
    NAME_RULES[resource_type.lower()].check(name)


def check_new(resource_type, name, body):
    """Refuse a request creating a resource whose name or tags break the rules (before anything is made)."""
    check_name(resource_type, name)
    checked_tags(body.get("tags"))


def check_node_resource_group(name):
    """AKS's limit on the node resource group name (``MC_<group>_<cluster>_<location>`` unless given): 80 characters."""
    if len(name) > MAX_NODE_RESOURCE_GROUP:
        raise ArmError(400, "InvalidParameter", f"The length of the node resource group name is too long. The maximum length is "
                                                f"{MAX_NODE_RESOURCE_GROUP} and the length of the value provided is {len(name)}. {AKS_NAMING}",
                       target="name")


def check_dns_prefix(prefix):
    """Refuse an AKS DNS prefix outside the spec's pattern."""
    DNS_PREFIX.check(prefix)


def _reserved(tag_name):
    return any(char in TAG_NAME_RESERVED or unicodedata.category(char) == "Cc" for char in tag_name)


def checked_tags(tags):
    """A copy of a request's ``tags`` after ARM's tag rules (None or absent: no tags)."""
    tags = dict(tags or {})
    if len(tags) > MAX_TAGS:
        raise ArmError(400, "InvalidTags", f"Too many tags specified. Requested tag count - '{len(tags)}'. "
                                           f"Maximum number of tags allowed - '{MAX_TAGS}'.")
    if any(not name.strip() for name in tags):
        raise ArmError(400, "InvalidTagName", "The tag name must be non-null, non-empty and non-whitespace only. Please provide an actual value.")
    reserved = [name for name in tags if _reserved(name)]
    if reserved:
        raise ArmError(400, "InvalidTagNameCharacters",
                       f"The tag names '{', '.join(reserved)}' have reserved characters '<,>,%,&,\\,?,/' or control characters.")
    long_names = [name for name in tags if len(name) > MAX_TAG_NAME]
    if long_names:
        raise ArmError(400, "InvalidTagName", f"Tag key too large. Following tag name '{', '.join(long_names)}' exceeded the maximum "
                                              f"length. Maximum allowed length for tag name - '{MAX_TAG_NAME}' characters.")
    long_values = [str(value) for value in tags.values() if value is not None and len(str(value)) > MAX_TAG_VALUE]
    if long_values:
        raise ArmError(400, "InvalidTagValueLength", f"Tag value too large. Following tag value '{', '.join(long_values)}' exceeded the "
                                                     f"maximum length. Maximum allowed length for tag value - '{MAX_TAG_VALUE}' characters.")
    return tags


def merge_tags(body, update):
    """Apply a PATCH's ``tags`` (a full replacement, as ARM does for tags) after the tag rules."""
    if "tags" in update and update["tags"] is not None:
        body["tags"] = checked_tags(update["tags"])
