"""The lab's Azure Disk CSI controller: ``disk.csi.azure.com``'s Identity and Controller services over the ARM emulator.

Run ``PYTHONPATH=tests python -m lab.csi --endpoint unix:///path/csi.sock --config FILE`` (see ``__main__``).
"""
