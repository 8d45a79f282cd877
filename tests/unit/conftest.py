"""The unit tests on an ansible-core older than 2.19, which has no ``ansible.module_utils.testing``.

The tests give a module its arguments with that module's ``patch_module_args``. An older AnsibleModule reads them
from ``ansible.module_utils.basic._ANSIBLE_ARGS`` (the JSON a module's wrapper would pass), which the stand-in here
sets for the ``with`` block. It is registered only when the real module is missing (``make test`` suite
``oldest-core``, on ansible-core 2.17); on 2.19 and later the tests import the real one.
"""

import contextlib
import json
import sys
import types

from ansible.module_utils import basic


@contextlib.contextmanager
def patch_module_args(args=None):
    """Make ``args`` the arguments of the AnsibleModule created inside the block."""
    saved = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode("utf-8")  # pylint: disable=protected-access
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS = saved  # pylint: disable=protected-access


try:
    import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import
except ImportError:
    stand_in = types.ModuleType("ansible.module_utils.testing")
    stand_in.patch_module_args = patch_module_args
    sys.modules[stand_in.__name__] = stand_in
