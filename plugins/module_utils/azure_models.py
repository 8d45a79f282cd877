# Copyright: kubedisk.aks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure SDK models as the plain dicts of ARM's REST API, so facts and comparisons read one shape."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


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
