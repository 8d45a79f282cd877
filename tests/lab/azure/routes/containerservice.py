"""Routes of Microsoft.ContainerService managed clusters and agent pools."""

from ..arm import Reply, Route, page
from ..models import containerservice as aks
from .operations import accepted

CLUSTER = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name}"
POOL = CLUSTER + "/agentPools/{pool}"


def _where(request):
    return request.params["subscription"], request.params["group"], request.params["name"]


def _put_cluster(lab, request):
    cluster, operation, created = aks.put_cluster(lab, *_where(request), request.body)
    return accepted(lab, request, operation, 201 if created else 200, cluster.body, headers=("Azure-AsyncOperation",))


def _patch_cluster(lab, request):
    cluster, operation = aks.patch_cluster(lab, *_where(request), request.body)
    return accepted(lab, request, operation, 200, cluster.body, headers=("Azure-AsyncOperation",))


def _get_cluster(lab, request):
    return Reply(200, aks.render(lab, aks.get_cluster(lab, *_where(request))).body)


def _delete_cluster(lab, request):
    operation = aks.delete_cluster(lab, *_where(request))
    return accepted(lab, request, operation) if operation else Reply(204)


def _list_clusters(lab, request):
    return page([cluster.body for cluster in aks.list_clusters(lab, request.params["subscription"], request.params.get("group"))])


def _power(action):
    def handler(lab, request):
        return accepted(lab, request, aks.power(lab, *_where(request), action))
    return handler


def _credentials(role):
    def handler(lab, request):
        return Reply(200, aks.credentials(lab, *_where(request), role))
    return handler


def _put_pool(lab, request):
    pool, operation, created = aks.put_pool(lab, *_where(request), request.params["pool"], request.body)
    return accepted(lab, request, operation, 201 if created else 200, pool.body, headers=("Azure-AsyncOperation",))


def _get_pool(lab, request):
    return Reply(200, aks.get_pool(lab, *_where(request), request.params["pool"]).body)


def _delete_pool(lab, request):
    operation = aks.delete_pool(lab, *_where(request), request.params["pool"])
    return accepted(lab, request, operation) if operation else Reply(204)


def _list_pools(lab, request):
    return page([pool.body for pool in aks.list_pools(lab, *_where(request))])


ROUTES = [
    Route("GET", "/subscriptions/{subscription}/providers/Microsoft.ContainerService/managedClusters", _list_clusters),
    Route("GET", "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters", _list_clusters),
    Route("PUT", CLUSTER, _put_cluster),
    Route("PATCH", CLUSTER, _patch_cluster),
    Route("GET", CLUSTER, _get_cluster),
    Route("DELETE", CLUSTER, _delete_cluster),
    Route("POST", CLUSTER + "/stop", _power("stop")),
    Route("POST", CLUSTER + "/start", _power("start")),
    Route("POST", CLUSTER + "/listClusterAdminCredential", _credentials("clusterAdmin")),
    Route("POST", CLUSTER + "/listClusterUserCredential", _credentials("clusterUser")),
    Route("GET", CLUSTER + "/agentPools", _list_pools),
    Route("PUT", POOL, _put_pool),
    Route("GET", POOL, _get_pool),
    Route("DELETE", POOL, _delete_pool),
]
