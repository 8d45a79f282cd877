# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation twin of plugins/module_utils/k8s_client.py (KUBERNETES_SPEC), the nested kubernetes option of the
Azure modules that also read Kubernetes objects, and the attributes of the read-only Kubernetes modules. The
Kubernetes modules document their top-level connection options with kubernetes.core's k8s_auth_options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # How the Azure modules that read or write Kubernetes objects reach the API: kubernetes.core's names, nested.
    DOCUMENTATION = r"""
options:
  kubernetes:
    description:
      - How to reach the Kubernetes API, with kubernetes.core's connection options (same names);
        unset ones fall back to the C(K8S_AUTH_*) environment variables as in kubernetes.core.
    type: dict
    suboptions:
      kubeconfig:
        description:
          - Path to a kubeconfig file, or its content as a dict.
          - The credentials in a dict (tokens, client keys and certificates, passwords) never show in results or logs.
        type: raw
      context:
        description: Context of the kubeconfig to use.
        type: str
      host:
        description: API server URL.
        type: str
      api_key:
        description: Bearer token.
        type: str
      username:
        description: User name for basic authentication.
        type: str
      password:
        description: Password for basic authentication.
        type: str
      validate_certs:
        description: Verify the API server's certificate.
        type: bool
        aliases: [verify_ssl]
      ca_cert:
        description: CA certificate of the API server.
        type: path
        aliases: [ssl_ca_cert]
      client_cert:
        description: Client certificate.
        type: path
        aliases: [cert_file]
      client_key:
        description: Client key.
        type: path
        aliases: [key_file]
"""

    # Attributes of the modules that only read Kubernetes objects.
    READ_ONLY = r"""
attributes:
  check_mode:
    description: Can run in check_mode (it only reads).
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
  platform:
    description: Target the module works against.
    support: full
    platforms: kubernetes
"""
