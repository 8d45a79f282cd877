# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation twins of the options every Azure module shares (AUTH_ARG_SPEC of module_utils/azure_auth.py and
the ``timeout`` AzureModule merges), of module_utils/azure_tags.py (TAGS_SPEC) and module_utils/aks_facts.py
(KUBECONFIG_FILE_SPEC), and of the shared attributes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The shared Azure authentication options and the time budget; each module documents its timeout default.
    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - How to obtain the Azure credential.
      - V(auto) uses a service principal when O(client_id), O(tenant) and one of O(secret), O(certificate_path)
        or O(federated_token_file) are set (as options or through their environment variables), otherwise
        tries workload identity, managed identity and the Azure CLI login in that order.
      - V(env) reads only environment variables, in either naming scheme (AWX C(AZURE_CLIENT_ID), C(AZURE_SECRET),
        C(AZURE_TENANT); azure-identity C(AZURE_CLIENT_ID), C(AZURE_CLIENT_SECRET), C(AZURE_TENANT_ID),
        C(AZURE_CLIENT_CERTIFICATE_PATH), C(AZURE_FEDERATED_TOKEN_FILE)).
      - V(credential) uses the service principal given by O(client_id), O(tenant) and O(secret),
        O(certificate_path) or O(federated_token_file).
      - V(cli) uses the current C(az login); V(msi) the managed identity of the host (O(client_id) picks a
        user-assigned one); V(workload_identity) the federated token that AKS workload identity mounts.
    type: str
    default: auto
    choices: [auto, env, cli, msi, workload_identity, credential]
  subscription_id:
    description:
      - Azure subscription id every call is made in, a GUID.
      - Falls back to the environment variable E(AZURE_SUBSCRIPTION_ID).
    type: str
  tenant:
    description:
      - Microsoft Entra tenant (directory) id.
      - Falls back to E(AZURE_TENANT), then E(AZURE_TENANT_ID).
    type: str
    aliases: [tenant_id]
  client_id:
    description:
      - Application (client) id of the service principal, or of the user-assigned managed identity with O(auth_source=msi).
      - Falls back to E(AZURE_CLIENT_ID).
    type: str
  secret:
    description:
      - Client secret of the service principal. Never logged, never part of a result or diff.
      - Falls back to E(AZURE_SECRET), then E(AZURE_CLIENT_SECRET).
    type: str
    aliases: [client_secret]
  certificate_path:
    description:
      - Path of a PEM or PKCS12 certificate (with its private key) of the service principal.
      - Falls back to E(AZURE_CLIENT_CERTIFICATE_PATH), then E(AZURE_CERT_PATH).
    type: path
  certificate_password:
    description:
      - Password of O(certificate_path), if it has one.
      - Falls back to E(AZURE_CLIENT_CERTIFICATE_PASSWORD).
    type: str
  federated_token_file:
    description:
      - File holding a federated (workload identity) token, exchanged for an Azure token.
      - Falls back to E(AZURE_FEDERATED_TOKEN_FILE).
    type: path
  cloud_environment:
    description:
      - V(AzureCloud), V(AzureChinaCloud), V(AzureUSGovernment), or the https URL of an Azure Resource Manager
        endpoint (Azure Stack style) whose endpoints are discovered from
        C(GET <url>/metadata/endpoints?api-version=2022-09-01); a single cloud object or a list is accepted.
      - A discovered document is kept for a day in C($XDG_CACHE_HOME/kubedisk/aks-cloud-metadata) (default
        C(~/.cache)), per URL and CA bundle, so later tasks do not fetch it again; none is kept with
        O(validate_certs=false).
      - Falls back to E(AZURE_CLOUD_ENVIRONMENT).
    type: str
    default: AzureCloud
  authority_host:
    description:
      - Microsoft Entra authority to get tokens from, overriding the one of O(cloud_environment).
      - Instance discovery is turned off for an authority that is not a public Azure one.
      - Falls back to E(AZURE_AUTHORITY_HOST).
    type: str
  ca_bundle:
    description:
      - CA bundle to verify Azure Resource Manager, the metadata endpoint and the authority with.
      - Falls back to E(AZURE_CA_BUNDLE), then E(REQUESTS_CA_BUNDLE).
    type: path
  validate_certs:
    description:
      - Verify TLS certificates. Turn off only for a test endpoint you trust.
    type: bool
    default: true
    aliases: [verify_ssl]
  timeout:
    description:
      - Seconds the module may take in all, at least 1. Every Azure call with its retries, long-running operation
        and wait is bounded by it, the token requests included.
      - A resource with an operation still running on it (C(Creating), C(Updating), ...) is waited for within it
        before it is compared with what is wanted.
      - When Azure throttles a call and asks for a C(Retry-After) that reaches past it, the task fails at once with
        Azure's answer (code, HTTP status, request id).
    type: int
requirements:
  - python >= 3.9
  - azure-identity >= 1.15
  - azure-core >= 1.30
  - azure-mgmt-core
notes:
  - Set the authentication options once per play with C(module_defaults) for C(group/kubedisk.aks.azure).
  - Transient Azure errors (HTTP 429, 408, 5xx, dropped connections) are retried by azure-core's retry policy,
    honouring C(Retry-After); long-running operations are polled at the pace Azure asks for and bounded by O(timeout).
"""

    # Attributes shared by the Azure modules; a module that supports check_mode or diff_mode less says so itself.
    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying Azure.
    support: full
  diff_mode:
    description: Returns before/after details (without secrets) of what changes or would change.
    support: full
  platform:
    description: Target the module works against.
    support: full
    platforms: azure
  action_group:
    description: Part of the action group C(kubedisk.aks.azure), for setting the auth options once with C(module_defaults).
    support: full
    membership:
      - kubedisk.aks.azure
"""

    # module_utils/azure_tags.py TAGS_SPEC.
    TAGS = r"""
options:
  tags:
    description:
      - Tags of the resource. With O(append_tags=true) they are merged over the existing ones.
      - Checked against Azure's limits before any call, at most 50 tags, keys of at most 512 characters without
        C(<), C(>), C(%), C(&), C(\), C(?) or C(/), values of at most 256 characters.
    type: dict
  append_tags:
    description: Keep tags that are on the resource but not in O(tags). V(false) makes O(tags) the complete set.
    type: bool
    default: true
"""

    # module_utils/aks_facts.py KUBECONFIG_FILE_SPEC.
    KUBECONFIG_FILE = r"""
options:
  kubeconfig:
    description:
      - Write the cluster's kubeconfig to a file (mode 0600), for kubernetes.core and the Kubernetes-side modules.
      - The file is rewritten only when its content differs, and not in check mode. It is never part of the result.
    type: dict
    suboptions:
      path:
        description: File to write.
        type: path
        required: true
      credential:
        description: V(admin) (the local admin account, not available when the cluster disables local accounts) or V(user).
        type: str
        default: user
        choices: [admin, user]
      login:
        description:
          - How the user of an Entra ID cluster's user kubeconfig signs in.
          - V(kubelogin) writes the kubeconfig as Azure returns it, whose user runs C(kubelogin get-token) (an exec
            plugin, which must be installed where Kubernetes is reached).
          - V(token) replaces that exec user by a bearer token the module's Azure credential gets for the AKS server
            application the kubeconfig names (C(--server-id)), for a controller without kubelogin (an AWX execution
            environment). The token lasts about an hour; the file keeps it while it stays valid for 10 minutes more and
            the kubeconfig is the same, so a rerun within that time changes nothing. The token is never logged or returned.
          - A kubeconfig without an exec user (a cluster with local accounts, O(kubeconfig.credential=admin)) is written
            as Azure returns it either way.
        type: str
        default: kubelogin
        choices: [kubelogin, token]
"""
