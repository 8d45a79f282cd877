"""SQLite state of the emulator: resources, long-running operations, principals, fault rules and settings.

Everything the emulator knows lives in one SQLite file in the lab state folder, so that a SIGKILL
and a restart lose nothing.  The server runs on one event loop thread, which is the only user of
the connection; a request that changes state runs inside one transaction.  That makes the answers
of reads cacheable: a read answers from memory until the next write (or rollback) through the store.

Resource ids are stored with the casing they were created with and looked up case-insensitively,
as ARM does.
"""

import contextlib
import json
import sqlite3
from dataclasses import dataclass, field

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id TEXT PRIMARY KEY COLLATE NOCASE,
    type TEXT NOT NULL COLLATE NOCASE,
    parent TEXT NOT NULL COLLATE NOCASE,
    body TEXT NOT NULL,
    internal TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_parent ON resources (type, parent);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL COLLATE NOCASE,
    namespace TEXT NOT NULL,
    location TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    deadline REAL NOT NULL,
    ended REAL,
    params TEXT NOT NULL,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS operations_due ON operations (status, deadline);
CREATE TABLE IF NOT EXISTS principals (
    object_id TEXT PRIMARY KEY COLLATE NOCASE,
    app_id TEXT COLLATE NOCASE,
    principal_type TEXT NOT NULL,
    display_name TEXT NOT NULL,
    secret TEXT,
    federated TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS principals_by_app ON principals (app_id);
CREATE TABLE IF NOT EXISTS faults (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
# Distinct cached reads kept at most between two writes.
READ_CACHE_SIZE = 10_000
# What the read cache holds for a setting that is not stored.
NOT_STORED = object()


@dataclass
class Resource:
    """One ARM resource: its public JSON body and the lab's private bookkeeping."""

    id: str
    type: str
    parent: str
    body: dict
    internal: dict = field(default_factory=dict)

    @property
    def properties(self):
        """The resource's ``properties`` object (created when missing)."""
        return self.body.setdefault("properties", {})


@dataclass
class Operation:
    """A long-running operation: ``kind`` names the completion step registered by a provider."""

    id: str
    kind: str
    resource_id: str
    namespace: str
    location: str
    status: str
    started: float
    deadline: float
    ended: float | None
    params: dict
    error: dict | None
    result: dict | None


@dataclass
class Principal:
    """A directory object that role assignments can name (service principal, user, group, managed identity)."""

    object_id: str
    app_id: str | None
    principal_type: str
    display_name: str
    secret: str | None
    federated: list
    created: float

    def public(self):
        """The JSON shape shown by the admin API (never the secret)."""
        return {
            "objectId": self.object_id, "appId": self.app_id, "principalType": self.principal_type,
            "displayName": self.display_name, "federatedCredentials": self.federated, "created": self.created,
        }


def _resource(row):
    return Resource(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]))


def _operation(row):
    return Operation(*row[:9], json.loads(row[9]), *(json.loads(value) if value else None for value in row[10:12]))


def _principal(row):
    return Principal(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6])


class Store:
    """Typed access to the SQLite file."""

    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._depth = 0
        self._read_cache = {}

    def _read(self, query, arguments=()):
        """The rows of a query, from memory when nothing was written since it last ran."""
        key = (query, tuple(arguments))
        rows = self._read_cache.get(key)
        if rows is None:
            if len(self._read_cache) >= READ_CACHE_SIZE:
                self._read_cache.clear()
            rows = self._read_cache[key] = self.db.execute(query, arguments).fetchall()
        return rows

    def _read_one(self, query, arguments=()):
        """The first row of a cached query, or None."""
        rows = self._read(query, arguments)
        return rows[0] if rows else None

    def _write(self, query, arguments=()):
        """Run a statement that changes the state; every cached read is forgotten."""
        self._read_cache.clear()
        return self.db.execute(query, arguments)

    @contextlib.contextmanager
    def transaction(self):
        """Group writes; nested uses join the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            self._read_cache.clear()
            raise
        else:
            self.db.execute("COMMIT")
        finally:
            self._depth = 0

    def close(self):
        """Close the connection."""
        self.db.close()

    # resources
    def get(self, resource_id):
        """The resource with this id (any casing), or None."""
        row = self._read_one("SELECT id, type, parent, body, internal FROM resources WHERE id = ?", (resource_id,))
        return _resource(row) if row else None

    def save(self, resource):
        """Insert or replace a resource."""
        self._write(
            "INSERT OR REPLACE INTO resources (id, type, parent, body, internal) VALUES (?, ?, ?, ?, ?)",
            (resource.id, resource.type, resource.parent, json.dumps(resource.body), json.dumps(resource.internal)))

    def delete(self, resource_id):
        """Remove one resource (children stay: callers cascade explicitly)."""
        self._write("DELETE FROM resources WHERE id = ?", (resource_id,))

    def children(self, parent_id, resource_type):
        """Resources of a type directly under a parent (resource group, scale set, cluster, scope)."""
        rows = self._read(
            "SELECT id, type, parent, body, internal FROM resources WHERE type = ? AND parent = ? ORDER BY rowid",
            (resource_type, parent_id))
        return [_resource(row) for row in rows]

    def under(self, prefix, resource_type=None):
        """Resources whose id starts with ``prefix + '/'`` (case-insensitive), optionally of one type."""
        start = prefix.rstrip("/") + "/"
        query = "SELECT id, type, parent, body, internal FROM resources WHERE substr(id, 1, ?) = ? COLLATE NOCASE"
        arguments = [len(start), start]
        if resource_type:
            query += " AND type = ?"
            arguments.append(resource_type)
        return [_resource(row) for row in self._read(query + " ORDER BY rowid", arguments)]

    def of_type(self, resource_type):
        """Every resource of a type."""
        rows = self._read("SELECT id, type, parent, body, internal FROM resources WHERE type = ? ORDER BY rowid", (resource_type,))
        return [_resource(row) for row in rows]

    # operations
    def add_operation(self, operation):
        """Record a new operation."""
        self._write(
            "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (operation.id, operation.kind, operation.resource_id, operation.namespace, operation.location, operation.status,
             operation.started, operation.deadline, operation.ended, json.dumps(operation.params),
             json.dumps(operation.error) if operation.error else None, json.dumps(operation.result) if operation.result else None))

    def finish_operation(self, operation):
        """Store the terminal status, error and result of an operation."""
        self._write(
            "UPDATE operations SET status = ?, ended = ?, error = ?, result = ? WHERE id = ?",
            (operation.status, operation.ended, json.dumps(operation.error) if operation.error else None,
             json.dumps(operation.result) if operation.result else None, operation.id))

    def operation(self, operation_id):
        """The operation with this id, or None."""
        row = self._read_one("SELECT * FROM operations WHERE id = ? COLLATE NOCASE", (operation_id,))
        return _operation(row) if row else None

    def due_operations(self, now):
        """Running operations whose deadline has passed, oldest first."""
        earliest = self._read_one("SELECT MIN(deadline) FROM operations WHERE status = 'InProgress'")[0]
        if earliest is None or earliest > now:
            return []
        rows = self.db.execute("SELECT * FROM operations WHERE status = 'InProgress' AND deadline <= ? ORDER BY deadline", (now,))
        return [_operation(row) for row in rows]

    def running_operations_not_before(self, deadline):
        """Running operations whose deadline is ``deadline`` or later."""
        rows = self.db.execute("SELECT * FROM operations WHERE status = 'InProgress' AND deadline >= ?", (deadline,))
        return [_operation(row) for row in rows]

    def reschedule_operation(self, operation_id, deadline):
        """Move a running operation's deadline."""
        self._write("UPDATE operations SET deadline = ? WHERE id = ?", (deadline, operation_id))

    def running_operations(self, resource_id):
        """Running operations on one resource."""
        rows = self._read("SELECT * FROM operations WHERE status = 'InProgress' AND resource_id = ?", (resource_id,))
        return [_operation(row) for row in rows]

    def operations(self, status=None):
        """Every operation (or those of one status), oldest first."""
        if status:
            rows = self._read("SELECT * FROM operations WHERE status = ? ORDER BY started", (status,))
        else:
            rows = self._read("SELECT * FROM operations ORDER BY started")
        return [_operation(row) for row in rows]

    def has_image(self, unique_id):
        """Whether a disk or snapshot uses this image (uniqueId)."""
        return self._read_one("SELECT 1 FROM resources WHERE json_extract(internal, '$.image') = ?", (unique_id,)) is not None

    # principals
    def add_principal(self, principal):
        """Register a directory object."""
        self._write(
            "INSERT OR REPLACE INTO principals VALUES (?, ?, ?, ?, ?, ?, ?)",
            (principal.object_id, principal.app_id, principal.principal_type, principal.display_name, principal.secret,
             json.dumps(principal.federated), principal.created))

    def principal(self, object_id):
        """The directory object with this object id, or None."""
        row = self._read_one("SELECT * FROM principals WHERE object_id = ?", (object_id,))
        return _principal(row) if row else None

    def principal_by_app(self, app_id):
        """The service principal of an application (client) id, or None."""
        row = self._read_one("SELECT * FROM principals WHERE app_id = ?", (app_id,))
        return _principal(row) if row else None

    def principals(self):
        """Every directory object."""
        return [_principal(row) for row in self._read("SELECT * FROM principals ORDER BY created")]

    def delete_principal(self, object_id):
        """Remove a directory object."""
        self._write("DELETE FROM principals WHERE object_id = ?", (object_id,))

    # fault rules
    def save_fault(self, rule_id, rule):
        """Insert or update a fault rule (JSON); a new rule comes after the others."""
        if self._write("UPDATE faults SET rule = ? WHERE id = ?", (json.dumps(rule), rule_id)).rowcount == 0:
            self._write("INSERT INTO faults VALUES (?, ?)", (rule_id, json.dumps(rule)))

    def delete_fault(self, rule_id):
        """Remove a fault rule."""
        self._write("DELETE FROM faults WHERE id = ?", (rule_id,))

    def faults(self):
        """Every fault rule (JSON), oldest first."""
        return [json.loads(row[0]) for row in self._read("SELECT rule FROM faults ORDER BY rowid")]

    # settings
    def setting(self, key, default=None):
        """A stored setting (JSON value, decoded once until the next write: callers change a copy, never the value)."""
        cache_key = ("setting", key)
        if cache_key not in self._read_cache:
            row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            self._read_cache[cache_key] = json.loads(row[0]) if row else NOT_STORED
        value = self._read_cache[cache_key]
        return default if value is NOT_STORED else value

    def set_setting(self, key, value):
        """Store a setting (JSON value)."""
        self._write("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    def wipe(self, keep_settings):
        """Forget every resource, operation and principal, and the settings not named in ``keep_settings``."""
        with self.transaction():
            for table in ("resources", "operations", "principals"):
                self._write(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            marks = ",".join("?" * len(keep_settings))
            self._write(f"DELETE FROM settings WHERE key NOT IN ({marks})", list(keep_settings))  # noqa: S608
