"""Routing tables: one module per provider maps ARM paths to thin handlers over the models.

A handler takes ``(lab, request)`` (the emulator and an :class:`~lab.azure.arm.ArmRequest`) and
returns a :class:`~lab.azure.arm.Reply`; it chooses status codes and long-running-operation
headers the way the provider answers, while the models hold state and rules.
"""

from . import authorization, containerservice, disks, operations, resources, vmss

ROUTES = (operations.ROUTES + resources.ROUTES + authorization.ROUTES + disks.ROUTES + vmss.ROUTES
          + containerservice.ROUTES)
