# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Entra ID cluster's user kubeconfig without kubelogin: its ``exec`` user replaced by a bearer token.

AKS writes the user of an Entra ID cluster's user kubeconfig as an exec plugin (``kubelogin get-token --server-id
<AKS server application> ...``). A controller without kubelogin (an AWX execution environment) signs in with the
module's own Azure credential instead: a token for ``<server-id>/.default`` goes where the exec user was. The token
is reused while the file holds the same kubeconfig and the token stays valid long enough, so a rerun changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import time

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core
    HAS_YAML = False

# A token in the file is reused while it is valid for at least this many seconds more.
MIN_TOKEN_VALIDITY = 600


class KubeconfigError(Exception):
    """A kubeconfig that cannot be read (the message never holds its content)."""


def _load(content):
    try:
        config = yaml.safe_load(content)
    except yaml.YAMLError:
        raise KubeconfigError("the kubeconfig Azure returned is not YAML")
    if not isinstance(config, dict):
        raise KubeconfigError("the kubeconfig Azure returned is not a kubeconfig (no mapping at its top)")
    return config


def server_id(user):
    """The AKS server application an exec user signs in to (the value of its ``--server-id``), or None."""
    execution = (user or {}).get("exec") or {}
    args = [str(arg) for arg in execution.get("args") or []]
    for index, arg in enumerate(args):
        if arg == "--server-id" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--server-id="):
            return arg.split("=", 1)[1]
    return None


def token_expiry(token):
    """The ``exp`` of a JWT (not verified: only to know when to renew it), or 0 when it has none."""
    try:
        payload = str(token).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8"))
        return int(claims.get("exp") or 0)
    except (IndexError, ValueError, TypeError, AttributeError):
        return 0


def _masked(config):
    """The kubeconfig with each user's credential left out, to compare two of them apart from their tokens."""
    masked = copy.deepcopy(config)
    for entry in masked.get("users") or []:
        if isinstance(entry, dict):
            entry["user"] = None
    return masked


def _reusable(existing, wanted_masked, now):
    """Whether the kubeconfig already in the file is the wanted one with tokens valid long enough."""
    try:
        old = _load(existing)
    except KubeconfigError:
        return False
    users = [entry.get("user") or {} for entry in old.get("users") or [] if isinstance(entry, dict)]
    return (_masked(old) == wanted_masked and bool(users)
            and all(token_expiry(user.get("token")) - now >= MIN_TOKEN_VALIDITY for user in users))


def with_bearer_token(content, get_token, existing=None, now=None):
    """The kubeconfig ``content`` with every exec user that names a ``--server-id`` replaced by ``{"token": ...}``.

    ``get_token(server_id)`` returns an access token for that application. ``existing`` (the file's bytes) is returned
    as it is when it holds the same kubeconfig with tokens valid for MIN_TOKEN_VALIDITY seconds more; a kubeconfig
    without such exec users (local accounts, an admin credential) is returned unchanged.
    """
    config = _load(content)
    users = [entry for entry in config.get("users") or [] if isinstance(entry, dict) and server_id(entry.get("user"))]
    if not users:
        return content
    if existing is not None and _reusable(existing, _masked(config), time.time() if now is None else now):
        return existing
    tokens = {}
    for entry in users:
        application = server_id(entry["user"])
        if application not in tokens:
            tokens[application] = get_token(application)
        entry["user"] = {"token": tokens[application]}
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False).encode("utf-8")
