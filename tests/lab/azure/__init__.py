"""An Azure Resource Manager emulator for the offline lab.

The unmodified Azure SDKs and azure-identity talk to it over HTTPS: an Entra ID look-alike issues
tokens, ARM routes resources to one models module per provider (``models/``) through small
routing tables (``routes/``), long-running operations run as stored deadlines (``lro.py``), state
lives in SQLite (``store.py``) and disk contents in sparse files (``diskfiles.py``).  The admin
API under ``/_lab/`` (``admin.py``) exposes the request log, fault rules, latency profiles, the
principal directory and disk bytes.  Start it with ``python -m lab.azure --state-dir DIR``.
"""
