# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes quantities (``5Gi``, ``100m``) as numbers, parsed by the kubernetes client, and sizes in GiB."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

GIB = 1 << 30


def parse_quantity(value):
    """A quantity (``5Gi``, ``500M``, ``100m``, ``1e3``, 12) as an int, or a float when it has a fraction; None stays None.

    The kubernetes client parses it (to a Decimal); negative, infinite and malformed values are refused.
    """
    if value is None:
        return None
    # Imported on first use: the kubernetes package takes half a second to import, which disk_snapshot and disk_restore
    # (through k8s_volumes) would pay on every run, with a Kubernetes source or not. A module that parses quantities
    # has connected through kube_client() first, which names what to install when it is missing.
    from kubernetes.utils import parse_quantity as parse_decimal_quantity  # pylint: disable=import-outside-toplevel
    try:
        amount = parse_decimal_quantity(value)
    except (ValueError, ArithmeticError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        raise ValueError("%r is not a Kubernetes quantity (e.g. 5Gi, 512Mi, 100m)" % value)
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def gib_ceil(num_bytes):
    """Whole GiB needed to hold ``num_bytes`` (Azure disks grow in GiB)."""
    return int(-(-int(num_bytes) // GIB))


def human_bytes(num_bytes):
    """``5Gi`` for whole GiB, else ``<n>Mi`` / bytes."""
    if num_bytes is None:
        return None
    num_bytes = int(num_bytes)
    for unit, size in (("Ti", 1 << 40), ("Gi", GIB), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if num_bytes % size == 0 and num_bytes >= size:
            return "%d%s" % (num_bytes // size, unit)
    return str(num_bytes)
