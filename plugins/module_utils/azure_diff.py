# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Comparison and ``--diff`` helpers: normalise what Azure fills in, drop secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

# Keys whose values never leave the module (diff, result, warnings), whatever their nesting.
SECRET_KEYS = frozenset(["secret", "client_secret", "password", "certificate_password", "kubeconfig",
                         "kubeconfigs", "access_token", "admin_password", "ssh_private_key"])


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
