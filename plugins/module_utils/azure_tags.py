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


# Azure's limits for the tags of one resource.
MAX_TAGS = 50
MAX_KEY_LENGTH = 512
MAX_VALUE_LENGTH = 256
FORBIDDEN_KEY_CHARACTERS = "<>%&\\?/"


def tags_problem(tags):
    """Why Azure would refuse ``tags`` (a sentence), or None when they are within its limits."""
    if not tags:
        return None
    if len(tags) > MAX_TAGS:
        return "%d tags given; Azure allows at most %d per resource" % (len(tags), MAX_TAGS)
    for key, value in tags.items():
        if not key or not key.strip():
            return "a tag key is empty"
        if len(key) > MAX_KEY_LENGTH:
            return "tag key %r... is %d characters long; Azure allows at most %d" % (key[:40], len(key), MAX_KEY_LENGTH)
        bad = sorted(set(c for c in key if c in FORBIDDEN_KEY_CHARACTERS or ord(c) < 32))
        if bad:
            return "tag key %r contains %s; Azure refuses the characters %s and control characters in keys" % (
                key, ", ".join(repr(c) for c in bad), " ".join(FORBIDDEN_KEY_CHARACTERS))
        if value is not None and len(str(value)) > MAX_VALUE_LENGTH:
            return "the value of tag %r is %d characters long; Azure allows at most %d" % (key, len(str(value)), MAX_VALUE_LENGTH)
    return None


def tags_after(current, desired, append):
    """Tags to send: ``desired`` alone, or merged over ``current`` when ``append`` is true. None = leave alone."""
    if desired is None:
        return None
    result = dict(current or {}) if append else {}
    result.update(desired)
    return result
