"""The emulator's state and services, independent of HTTP: store, settings, identity, operations, disk files."""

import os
import time

from . import imds, profiles
from .arm import new_guid
from .diskfiles import DiskFiles
from .identity import SIGNING_KEY, Identity, new_secret
from .lro import Operations
from .models import authorization
from .store import Principal, Store
from .throttling import DEFAULT_LIMITS

DEFAULT_CONFIG = {
    "kubeconfig": None,
    "principalReplicationDelaySeconds": 0,
    "onlineResize": True,
    "tokenLifetimeSeconds": 3599,
    "armThrottling": DEFAULT_LIMITS,
    # Items per page of the paged lists (managed clusters); ARM leaves the size to each provider.
    "listPageSize": 100,
}


class Emulator:
    """Everything one emulator process knows, kept in the state folder."""

    def __init__(self, state_dir, profile=None):
        self.state_dir = state_dir
        os.makedirs(state_dir, exist_ok=True)
        self.store = Store(os.path.join(state_dir, "arm.sqlite"))
        self.disks = DiskFiles(os.path.join(state_dir, "disks"))
        self.base_url = ""
        self.credentials = self.store.setting("credentials")
        if self.credentials is None:
            self.credentials = {"tenant_id": new_guid(), "subscription_id": new_guid(), "client_id": new_guid(), "client_secret": new_secret()}
            with self.store.transaction():
                self.store.set_setting("credentials", self.credentials)
        if profile:
            self.store.set_setting("profile", {"name": profile, "overrides": {}})
        stored = self.store.setting("profile", {"name": "fast", "overrides": {}})
        self.profile = profiles.LatencyProfile(stored["name"], stored["overrides"], stored.get("spread"), stored.get("seed", profiles.DEFAULT_SEED))
        if os.environ.get("LAB_KUBECONFIG") and not self.config("kubeconfig"):
            self.set_config({"kubeconfig": os.environ["LAB_KUBECONFIG"]})
        self.identity = Identity(self)
        self.operations = Operations(self)
        self.operations.end_hangs()
        if self.store.principal_by_app(self.credentials["client_id"]) is None:
            self.seed()

    @property
    def subscription(self):
        """The lab subscription id (a GUID)."""
        return self.credentials["subscription_id"]

    def seed(self):
        """The lab's own service principal, Owner of the subscription (as a deployment principal usually is)."""
        with self.store.transaction():
            principal = Principal(new_guid(), self.credentials["client_id"], "ServicePrincipal", "kubedisk-lab-deployer",
                                  self.credentials["client_secret"], [], 0.0)
            self.store.add_principal(principal)
            authorization.seed_owner(self, principal.object_id)

    def config(self, key):
        """A runtime setting (see DEFAULT_CONFIG)."""
        return self.store.setting(f"config.{key}", DEFAULT_CONFIG[key])

    def set_config(self, values):
        """Change runtime settings; unknown keys are refused."""
        unknown = set(values) - set(DEFAULT_CONFIG)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}; known: {', '.join(DEFAULT_CONFIG)}")
        size = values.get("listPageSize", 1)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"listPageSize must be a whole number of at least 1, not {size!r}")
        with self.store.transaction():
            for key, value in values.items():
                self.store.set_setting(f"config.{key}", value)

    def all_config(self):
        """Every runtime setting."""
        return {key: self.config(key) for key in DEFAULT_CONFIG}

    def set_profile(self, name, overrides=None, spread=None, seed=profiles.DEFAULT_SEED):
        """Switch the latency profile (running operations keep their deadlines; ``spread`` None: the profile's own)."""
        profile = profiles.LatencyProfile(name, overrides, spread, seed)
        with self.store.transaction():
            self.store.set_setting("profile", {"name": profile.name, "overrides": profile.overrides, "spread": spread, "seed": seed})
        self.profile = profile

    def reset(self):
        """Forget all resources, operations and principals (credentials, profile and settings stay)."""
        for name in os.listdir(self.disks.folder):
            os.remove(os.path.join(self.disks.folder, name))
        kept = ["credentials", "profile", SIGNING_KEY, imds.PORT_SETTING] + [f"config.{key}" for key in DEFAULT_CONFIG]
        self.store.wipe(kept)
        self.seed()

    def advance(self):
        """Complete the operations whose time has come."""
        self.operations.advance(time.time())
