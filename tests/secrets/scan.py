"""Look for the run's credentials in everything a playbook run can leave readable; exit 1 on any leak.

Usage: python scan.py LAB_VARS_JSON KUBECONFIG PLACE=PATH[,PATH...] ...
The credentials are the Azure client secret of the lab's variables and, from the kubeconfig, each user's token,
client-key-data and client-certificate-data, with the PEM those two decode to (every 64-character line of its
body, so an escaped or re-wrapped copy is found too). Any PEM private key block counts as a leak as well. A PATH is
a file or a folder (scanned through); each PLACE gets a line with the files it held and the leaks found there.
"""

import base64
import binascii
import json
import os
import re
import sys

import yaml

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
USER_SECRETS = ("token", "client-key-data", "client-certificate-data")


def credentials(lab_vars_path, kubeconfig_path):
    """``{name: bytes}`` of every credential string to look for."""
    with open(lab_vars_path, encoding="utf-8") as handle:
        found = {"azure client secret": json.load(handle)["lab_azure"]["secret"].encode()}
    with open(kubeconfig_path, encoding="utf-8") as handle:
        kubeconfig = yaml.safe_load(handle)
    for entry in kubeconfig.get("users") or []:
        user = entry.get("user") or {}
        for key in USER_SECRETS:
            if not user.get(key):
                continue
            label = "%s of user %s" % (key, entry.get("name"))
            found[label] = user[key].encode()
            if key.endswith("-data"):
                try:
                    pem = base64.b64decode(user[key], validate=True)
                except binascii.Error:
                    continue
                body = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
                for number, line in enumerate(body):
                    if len(line) == 64:
                        found["%s, decoded PEM line %d" % (label, number + 1)] = line
    return found


def files_of(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
        for folder, _subfolders, names in os.walk(path):
            for name in sorted(names):
                yield os.path.join(folder, name)


def scan(place, paths, secrets):
    """Print the place's line (and one per leak); the number of leaks."""
    count = leaks = 0
    for path in files_of(paths):
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:  # another run's temporary file, gone since the walk
            continue
        count += 1
        hits = sorted(label for label, value in secrets.items() if value in content)
        if PRIVATE_KEY.search(content):
            hits.append("a PEM private key")
        for hit in hits:
            print("  LEAK %s: %s in %s" % (place, hit, path))
        leaks += len(hits)
    print("  %-34s %4d files, %d leaks" % (place, count, leaks))
    return leaks


def main(argv):
    secrets = credentials(argv[0], argv[1])
    print("secrets: looking for %d credential strings (%s) and any PEM private key"
          % (len(secrets), ", ".join(sorted({label.split(",")[0] for label in secrets}))))
    leaks = 0
    for spec in argv[2:]:
        place, paths = spec.split("=", 1)
        leaks += scan(place, [p for p in paths.split(",") if p], secrets)
    print("secrets: %d places scanned, leaks found = %d" % (len(argv) - 2, leaks))
    return leaks


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
