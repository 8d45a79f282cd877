# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the modules reach the Kubernetes API: kubernetes.core's API client behind ``Kube``.

The Kubernetes modules take kubernetes.core's connection options at the top level, under its names and argument
spec (``K8S_AUTH_SPEC``, documented by kubernetes.core's ``k8s_auth_options`` doc fragment), so the
``group/kubedisk.aks.k8s`` module defaults set them as ``group/kubernetes.core.k8s`` does. The Azure modules that also
read Kubernetes objects (disk_snapshot, disk_restore) nest them under ``kubernetes`` (``KUBERNETES_SPEC``, the
``kubedisk.aks.kubernetes`` doc fragment). Unset options fall back to ``K8S_AUTH_*`` in kubernetes.core.
``KubeconfigModule`` (an AnsibleModule) keeps the credentials of a kubeconfig given inline out of every result and
log, ``kube_client`` connects, and ``Kube`` reads and writes objects as dicts, any API failure raised as ``K8sError``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import traceback

from ansible.module_utils.basic import AnsibleModule

try:
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:  # kube_client() fails first, naming what to install
    Urllib3Error = OSError

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

# kubernetes.core's API client factory, imported by ``kube_client`` on first use: the kubernetes package behind it
# takes about half a second to import, which every Azure module (built on ``KubeconfigModule``) would pay on every run
# without ever reaching Kubernetes.
get_api_client = None  # pylint: disable=invalid-name

# kubernetes.core's connection options (its argument spec; the values fall back to K8S_AUTH_* when unset).
K8S_AUTH_SPEC = copy.deepcopy(AUTH_ARG_SPEC)
# The nested ``kubernetes`` option: the connection options the kubedisk.aks.kubernetes doc fragment documents.
KUBERNETES_SPEC = {"type": "dict", "options": dict(
    (name, copy.deepcopy(AUTH_ARG_SPEC[name])) for name in (
        "kubeconfig", "context", "host", "api_key", "username", "password", "validate_certs", "ca_cert", "client_cert",
        "client_key"))}
# An Azure module's validate_certs (the shared Azure option of that name) is about Azure's endpoints: the Kubernetes
# API's certificate is then checked as the kubeconfig, ca_cert or K8S_AUTH_VERIFY_SSL say.
AZURE_OWNED_NAMES = frozenset(["validate_certs"])
# kubernetes.core's connection options of a module built on AzureModule, which brings validate_certs itself.
AZURE_MODULE_K8S_AUTH_SPEC = dict((k, v) for k, v in K8S_AUTH_SPEC.items() if k not in AZURE_OWNED_NAMES)

# Keys of a kubeconfig whose values are credentials (the set kubernetes.core's module base redacts).
KUBECONFIG_SECRET_KEYS = frozenset(["token", "password", "secret", "client-key-data", "client-certificate-data",
                                    "certificate-authority-data", "api_key", "access-token", "refresh-token"])


class K8sError(Exception):
    """A Kubernetes API call failed; the message names the call and the API's reason."""


class K8sConflict(K8sError):
    """A write carried a ``resourceVersion`` the object no longer has (HTTP 409): someone else changed it first."""


def kubeconfig_secrets(kubeconfig):
    """The credential strings found anywhere in a kubeconfig given as a dict (users' tokens, keys, passwords)."""
    found = set()
    if isinstance(kubeconfig, dict):
        for key, value in kubeconfig.items():
            if key in KUBECONFIG_SECRET_KEYS and isinstance(value, str):
                found.add(value)
            else:
                found |= kubeconfig_secrets(value)
    elif isinstance(kubeconfig, list):
        for item in kubeconfig:
            found |= kubeconfig_secrets(item)
    return found


def connection_params(params):
    """The kubernetes.core connection options among a module's parameters: its ``kubernetes`` option when it has one,
    else its top-level options of those names."""
    if "kubernetes" in params:
        return params["kubernetes"] or {}
    return dict((name, params.get(name)) for name in K8S_AUTH_SPEC if name in params)


def hide_kubeconfig_secrets(module):
    """Add the credentials of an inline kubeconfig (``kubeconfig`` as a dict) to the AnsibleModule's no-log values.

    Ansible hides the ``no_log`` options (``api_key``, ``password``) itself; a kubeconfig is a free-form dict,
    so its secrets are named here, before the module can return anything.
    """
    module.no_log_values.update(kubeconfig_secrets(connection_params(module.params).get("kubeconfig")))


class KubeconfigModule(AnsibleModule):
    """An AnsibleModule that hides an inline kubeconfig's credentials before it logs its invocation.

    AnsibleModule sends its arguments to syslog (or journald) from its constructor, before the module's own code
    runs, so ``hide_kubeconfig_secrets`` must act inside the constructor, right before that log; and once more after
    it, for a module that logs nothing (no_log, no_target_syslog) but still returns its invocation.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hide_kubeconfig_secrets(self)

    def _log_invocation(self):
        hide_kubeconfig_secrets(self)
        super()._log_invocation()


def kube_client(module, deadline=None):
    """``Kube`` for the AnsibleModule's connection options; fails the module when it cannot connect.

    With ``deadline`` (a ``Deadline``) the reads ride out an API server that does not answer for a while.
    """
    global get_api_client  # pylint: disable=global-statement,invalid-name
    if get_api_client is None:
        try:
            from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client as imported
        except ImportError:
            module.fail_json(msg="the kubernetes.core collection (and the kubernetes Python package) is needed to reach "
                                 "Kubernetes: install kubernetes.core", exception=traceback.format_exc())
        else:
            get_api_client = imported
    azure_owned = AZURE_OWNED_NAMES if "auth_source" in module.params and "kubernetes" not in module.params else ()
    options = dict((k, v) for k, v in connection_params(module.params).items() if v is not None and k not in azure_owned)
    try:
        return Kube(get_api_client(**options), deadline)
    except Exception as exc:  # kubernetes.core's CoreException and the kubernetes config errors alike
        module.fail_json(msg="cannot connect to Kubernetes: %s (check the kubeconfig, host and api_key options or "
                             "K8S_AUTH_*)" % exc, exception=traceback.format_exc())


def _as_dict(obj):
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _reason(exc):
    """The API's message and reason from an error body, else the exception text."""
    body = getattr(exc, "body", None)
    if body:
        try:
            parsed = json.loads(body if isinstance(body, str) else body.decode("utf-8"))
            return "%s (%s)" % (parsed.get("message"), parsed.get("reason"))
        except (ValueError, AttributeError):
            pass
    return str(exc)


def _path(namespace, name):
    return "/".join(x for x in (namespace, name) if x)


def unreachable(exc):
    """Whether the API server was not reached at all (refused, reset, timed out): no answer, so nothing was done."""
    return isinstance(exc, (Urllib3Error, OSError)) and getattr(exc, "status", None) is None


class Kube(object):
    """Reads and writes through kubernetes.core's dynamic client; objects are dicts, a missing one is None.

    With a ``deadline``, a read that an API server which answered before now leaves unanswered (a control-plane
    restart, a dropped connection) is made again for up to ``RIDE_OUT_SECONDS``, within the deadline: reads are safe
    to repeat. A server never reached fails at once (a wrong address should not cost the whole timeout). Writes are
    not repeated, since one that reached the server before the connection broke may have been applied; their callers
    read again and decide.
    """

    RIDE_OUT_SECONDS = 30.0

    def __init__(self, client, deadline=None):
        self.client = client
        self.deadline = deadline
        self._answered = False
        self._resources = {}

    def _read(self, func):
        try:
            if self.deadline is not None and self._answered:
                found = self.deadline.within(self.RIDE_OUT_SECONDS).retry(func, unreachable, interval=1.0, max_interval=4.0)
            else:
                found = func()
        except Exception as exc:
            self._answered = self._answered or not unreachable(exc)  # an error answer (404, 403, ...) is an answer
            raise
        self._answered = True
        return found

    def _resource(self, kind, api_version):
        key = (kind, api_version)
        if key not in self._resources:
            self._resources[key] = self.client.resource(kind, api_version)
        return self._resources[key]

    def get(self, kind, name, namespace=None, api_version="v1"):
        try:
            return _as_dict(self._read(lambda: self.client.get(self._resource(kind, api_version), name=name, namespace=namespace)))
        except Exception as exc:  # kubernetes.dynamic errors carry the HTTP status
            if getattr(exc, "status", None) == 404:
                return None
            raise K8sError("reading %s %s: %s" % (kind, _path(namespace, name), _reason(exc)))

    def list(self, kind, namespace=None, api_version="v1", **params):
        try:
            found = _as_dict(self._read(lambda: self.client.get(self._resource(kind, api_version), namespace=namespace, **params)))
        except Exception as exc:
            raise K8sError("listing %s: %s" % (kind, _reason(exc)))
        return found.get("items") or []

    def patch(self, kind, name, body, namespace=None, api_version="v1", resource_version=None):
        """A JSON merge patch (a None value removes the key).

        With ``resource_version`` the API applies it only to that version of the object (optimistic locking) and
        raises ``K8sConflict`` when the object changed since it was read.
        """
        if resource_version is not None:
            body = dict(body, metadata=dict(body.get("metadata") or {}, resourceVersion=resource_version))
        try:
            return _as_dict(self.client.patch(self._resource(kind, api_version), body, name=name, namespace=namespace,
                                              content_type="application/merge-patch+json"))
        except Exception as exc:
            error = K8sConflict if getattr(exc, "status", None) == 409 else K8sError
            raise error("patching %s %s: %s" % (kind, _path(namespace, name), _reason(exc)))

    def create(self, kind, body, namespace=None, api_version="v1"):
        try:
            return _as_dict(self.client.create(self._resource(kind, api_version), body, namespace=namespace))
        except Exception as exc:
            raise K8sError("creating %s %s: %s" % (kind, _path(namespace, body["metadata"]["name"]), _reason(exc)))

    def delete(self, kind, name, namespace=None, api_version="v1", propagation=None):
        """Delete (``propagation``: Orphan, Background, Foreground); None when it was not there."""
        body = {"propagationPolicy": propagation} if propagation else None
        try:
            return _as_dict(self.client.delete(self._resource(kind, api_version), name=name, namespace=namespace, body=body))
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise K8sError("deleting %s %s: %s" % (kind, _path(namespace, name), _reason(exc)))
