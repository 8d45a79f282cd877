# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparison and ``--diff`` helpers: normalise what Azure fills in, find changed fields, drop secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

# Keys whose values never leave the module (diff, result, warnings), whatever their nesting.
SECRET_KEYS = frozenset(["secret", "client_secret", "password", "certificate_password", "kubeconfig",
                         "kubeconfigs", "access_token", "admin_password", "ssh_private_key"])
REDACTED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def scrub(value, secret_keys=SECRET_KEYS):
    """Deep copy of ``value`` with every secret-named key removed."""
    if isinstance(value, dict):
        return dict((k, scrub(v, secret_keys)) for k, v in value.items() if str(k).lower() not in secret_keys)
    if isinstance(value, list):
        return [scrub(v, secret_keys) for v in value]
    return copy.deepcopy(value)


def make_diff(before, after):
    """The ``diff`` result key (before/after), secrets removed; None becomes an empty dict (absent)."""
    return {"before": scrub(before) if before is not None else {},
            "after": scrub(after) if after is not None else {}}


def norm_zones(zones):
    """Zones as a sorted list of strings (Azure may answer them in any order, as numbers or strings)."""
    return sorted(str(z) for z in (zones or []))


def same_text(left, right):
    """Case-insensitive equality for Azure names and enums (``Standard_LRS`` == ``standard_lrs``)."""
    if left is None or right is None:
        return left is right
    return str(left).lower() == str(right).lower()


def tags_after(current, desired, append):
    """Tags to send: ``desired`` alone, or merged over ``current`` when ``append`` is true. None = leave alone."""
    if desired is None:
        return None
    result = dict(current or {}) if append else {}
    result.update(desired)
    return result


def changed_fields(desired, current, path="", ignore_case=()):
    """Paths of ``desired`` keys whose value differs from ``current`` (keys absent from ``desired`` are ignored).

    Lists compare as wholes; strings compare case-insensitively when their key is in ``ignore_case``.
    """
    changes = []
    current = current or {}
    for key, want in desired.items():
        if want is None:
            continue
        here = "%s.%s" % (path, key) if path else key
        have = current.get(key) if isinstance(current, dict) else None
        if isinstance(want, dict):
            changes.extend(changed_fields(want, have if isinstance(have, dict) else {}, here, ignore_case))
        elif key in ignore_case and isinstance(want, str):
            if not same_text(want, have):
                changes.append(here)
        elif want != have:
            changes.append(here)
    return changes


def to_rest(obj):
    """An SDK model (either generation) or dict as a plain dict with ARM's REST keys (``properties.*``)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        return dict((k, to_rest(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return [to_rest(v) for v in obj]
    if hasattr(obj, "serialize") and hasattr(obj, "_attribute_map"):  # msrest-style models (azure-mgmt-authorization)
        return obj.serialize(keep_readonly=True)
    if hasattr(obj, "as_dict"):  # typespec-style models (compute, containerservice, resource) hold REST keys
        return obj.as_dict()
    raise TypeError("cannot turn %r into a REST dict" % type(obj).__name__)
