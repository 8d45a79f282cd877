"""Routes of Microsoft.Compute virtual machine scale sets and their VMs."""

from ..arm import Reply, Route, page
from ..models import vmss
from .operations import accepted

SCALE_SET = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"
VM = SCALE_SET + "/virtualMachines/{instance}"


def _expand(request):
    return "instanceview" in request.query.get("$expand", "").lower()


def _vm(lab, request):
    params = request.params
    return vmss.get_vm(lab, params["subscription"], params["group"], params["name"], params["instance"])


def _get_scale_set(lab, request):
    params = request.params
    return Reply(200, vmss.get_scale_set(lab, params["subscription"], params["group"], params["name"]).body)


def _list_scale_sets(lab, request):
    return page([item.body for item in vmss.list_scale_sets(lab, request.params["subscription"], request.params["group"])])


def _list_vms(lab, request):
    params = request.params
    return page([vm.body for vm in vmss.list_vms(lab, params["subscription"], params["group"], params["name"], _expand(request))])


def _get_vm(lab, request):
    return Reply(200, vmss.render_vm(_vm(lab, request), _expand(request)).body)


def _instance_view(lab, request):
    return Reply(200, vmss.instance_view(_vm(lab, request)))


def _update_vm(lab, request):
    vm = _vm(lab, request)
    operation = vmss.update_vm(lab, vm, request.body)
    return accepted(lab, request, operation, 200, lab.store.get(vm.id).body, headers=("Azure-AsyncOperation",))


def _attach_detach(lab, request):
    return accepted(lab, request, vmss.attach_detach(lab, _vm(lab, request), request.body))


def _vm_action(action):
    def handler(lab, request):
        vm = _vm(lab, request)
        scale_set = lab.store.get(vm.parent)
        return accepted(lab, request, vmss.power_action(lab, scale_set, [vm], action))
    return handler


def _scale_set_action(action):
    def handler(lab, request):
        params = request.params
        scale_set = vmss.get_scale_set(lab, params["subscription"], params["group"], params["name"])
        targets = vmss.scale_set_action_targets(lab, scale_set, request.body)
        return accepted(lab, request, vmss.power_action(lab, scale_set, targets, action))
    return handler


ROUTES = [
    Route("GET", "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets", _list_scale_sets),
    Route("GET", SCALE_SET, _get_scale_set),
    Route("GET", SCALE_SET + "/virtualMachines", _list_vms),
    Route("GET", VM, _get_vm),
    Route("PUT", VM, _update_vm),
    Route("PATCH", VM, _update_vm),
    Route("GET", VM + "/instanceView", _instance_view),
    Route("POST", VM + "/attachDetachDataDisks", _attach_detach),
] + [Route("POST", f"{VM}/{action}", _vm_action(action)) for action in vmss.POWER_ACTIONS] + [
    Route("POST", f"{SCALE_SET}/{action}", _scale_set_action(action)) for action in vmss.POWER_ACTIONS]
