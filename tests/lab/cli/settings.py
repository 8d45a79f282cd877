"""``vars``: the running lab's settings for Ansible, as JSON (a vars file ``include_vars`` and ``-e @FILE`` read).

``lab_azure`` is what ``module_defaults`` for ``group/kubedisk.aks.azure`` take (credentials given
explicitly, so nothing else in the environment is needed); ``lab_env`` the lab's exports for tasks
that want them; ``lab_dir``, ``lab_python`` and ``lab_pythonpath`` how to run ``python -m lab``.
"""

import json
import os
import sys

from .labdir import TESTS


def lab_vars(lab) -> dict:
    """The variables ``vars`` prints."""
    exports = lab.exports()
    azure = {"auth_source": "credential", "subscription_id": exports["AZURE_SUBSCRIPTION_ID"], "tenant": exports["AZURE_TENANT_ID"],
             "client_id": exports["AZURE_CLIENT_ID"], "secret": exports["AZURE_CLIENT_SECRET"],
             "cloud_environment": exports["AZURE_CLOUD_ENVIRONMENT"], "authority_host": exports["AZURE_AUTHORITY_HOST"],
             "ca_bundle": exports["REQUESTS_CA_BUNDLE"]}
    env = {name: value for name, value in exports.items()
           if name.startswith(("AZURE_", "LAB_")) or name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    return {"lab_azure": azure, "lab_env": env, "lab_dir": str(lab.root), "lab_python": sys.executable, "lab_pythonpath": str(TESTS)}


def print_vars(lab, arguments):
    """Print the variables, or write them to ``--output`` (readable by the owner only: they hold a secret)."""
    text = json.dumps(lab_vars(lab), indent=1) + "\n"
    if arguments.output is None:
        sys.stdout.write(text)
        return
    with open(os.open(arguments.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(arguments.output, 0o600)


def add_verbs(verbs):
    """Register ``vars``."""
    variables = verbs.add_parser("vars", help='print the lab\'s settings for Ansible as JSON ({"lab_azure", "lab_env", "lab_dir", '
                                              '"lab_python", "lab_pythonpath"})')
    variables.add_argument("--output", metavar="FILE", help="write them to FILE (mode 0600) instead")
    variables.set_defaults(run=print_vars)
