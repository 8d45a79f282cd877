# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``tags`` and ``append_tags`` options (documented by the ``kubedisk.aks.azure.tags`` doc fragment) and the
tags they ask to send."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

TAGS_SPEC = {
    "tags": {"type": "dict"},
    "append_tags": {"type": "bool", "default": True},
}


def tags_after(current, desired, append):
    """Tags to send: ``desired`` alone, or merged over ``current`` when ``append`` is true. None = leave alone."""
    if desired is None:
        return None
    result = dict(current or {}) if append else {}
    result.update(desired)
    return result
