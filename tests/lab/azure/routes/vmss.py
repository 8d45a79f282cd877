"""Routes of Microsoft.Compute virtual machine scale sets, their VMs, and standalone virtual machines."""

from ..arm import Reply, Route, page
from ..models import vmss
from .operations import ASYNC_OPERATION, accepted

SCALE_SETS = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets"
SCALE_SET = SCALE_SETS + "/{name}"
VM = SCALE_SET + "/virtualMachines/{instance}"
STANDALONE_VMS = "/providers/Microsoft.Compute/virtualMachines"
GROUP_STANDALONE_VMS = "/subscriptions/{subscription}/resourceGroups/{group}" + STANDALONE_VMS


def _expand(request):
    return "instanceview" in request.query.get("$expand", "").lower()


def _vm(lab, request):
    return vmss.get_vm(lab, *request.names, request.params["instance"])


def _list_scale_sets(lab, request):
    return page([scale_set.body for scale_set in vmss.list_scale_sets(lab, request.params["subscription"], request.params["group"])])


def _list_vms(lab, request):
    return page([vm.body for vm in vmss.list_vms(lab, *request.names, _expand(request))])


def _update_vm(lab, request):
    vm = _vm(lab, request)
    operation = vmss.update_vm(lab, vm, request.body)
    return accepted(lab, request, operation, 200, lab.store.get(vm.id).body, headers=(ASYNC_OPERATION,))


def _attach_detach(lab, request):
    return accepted(lab, request, vmss.attach_detach(lab, _vm(lab, request), request.body))


def _vm_action(action):
    def handler(lab, request):
        vm = _vm(lab, request)
        return accepted(lab, request, vmss.power_action(lab, lab.store.get(vm.parent), [vm], action))
    return handler


def _scale_set_action(action):
    def handler(lab, request):
        scale_set = vmss.get_scale_set(lab, *request.names)
        return accepted(lab, request, vmss.power_action(lab, scale_set, vmss.scale_set_action_targets(lab, scale_set, request.body), action))
    return handler


def _list_standalone_vms(lab, request):
    return page([vm.body for vm in vmss.list_standalone_vms(lab, request.params["subscription"], request.params.get("group"))])


ROUTES = [
    Route("GET", "/subscriptions/{subscription}" + STANDALONE_VMS, _list_standalone_vms),
    Route("GET", GROUP_STANDALONE_VMS, _list_standalone_vms),
    Route("GET", GROUP_STANDALONE_VMS + "/{name}", lambda lab, request: Reply(200, vmss.get_standalone_vm(lab, *request.names).body)),
    Route("GET", SCALE_SETS, _list_scale_sets),
    Route("GET", SCALE_SET, lambda lab, request: Reply(200, vmss.get_scale_set(lab, *request.names).body)),
    Route("GET", SCALE_SET + "/virtualMachines", _list_vms),
    Route("GET", VM, lambda lab, request: Reply(200, vmss.render_vm(_vm(lab, request), _expand(request)).body)),
    Route("PUT", VM, _update_vm),
    Route("PATCH", VM, _update_vm),
    Route("GET", VM + "/instanceView", lambda lab, request: Reply(200, vmss.instance_view(_vm(lab, request)))),
    Route("POST", VM + "/attachDetachDataDisks", _attach_detach),
] + [Route("POST", f"{VM}/{action}", _vm_action(action)) for action in vmss.POWER_ACTIONS] + [
    Route("POST", f"{SCALE_SET}/{action}", _scale_set_action(action)) for action in vmss.POWER_ACTIONS]
