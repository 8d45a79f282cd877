"""Routing tables: one module per provider maps ARM paths to thin handlers over the models.

A handler takes ``(lab, request)`` (the emulator and an :class:`~lab.azure.arm.ArmRequest`) and
returns a :class:`~lab.azure.arm.Reply`; it chooses status codes and long-running-operation
headers the way the provider answers, while the models hold state and rules.
"""

from ..arm import Router
from . import authorization, containerservice, disks, operations, resources, vmss

PROVIDER_ROUTES = resources.ROUTES + authorization.ROUTES + disks.ROUTES + vmss.ROUTES + containerservice.ROUTES
# Operation results read the resource a PUT or PATCH wrote through the provider's own GET.
ROUTES = operations.routes(Router(route for route in PROVIDER_ROUTES if route.method == "GET")) + PROVIDER_ROUTES
