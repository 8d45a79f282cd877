"""Routes of Microsoft.ContainerService managed clusters and agent pools."""

from ..arm import Reply, Route, page, paged
from ..models import aks_upgrade
from ..models import containerservice as aks
from .operations import ASYNC_OPERATION, accepted, deleting

CLUSTERS = "/providers/Microsoft.ContainerService/managedClusters"
LOCATION = "/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/{location}"
CLUSTER = "/subscriptions/{subscription}/resourceGroups/{group}" + CLUSTERS + "/{name}"
POOL = CLUSTER + "/agentPools/{pool}"


def _put_cluster(lab, request):
    cluster, operation, created = aks.put_cluster(lab, *request.names, request.body)
    return accepted(lab, request, operation, 201 if created else 200, cluster.body, headers=(ASYNC_OPERATION,))


def _patch_cluster(lab, request):
    cluster, operation = aks.patch_cluster(lab, *request.names, request.body)
    return accepted(lab, request, operation, 200, cluster.body, headers=(ASYNC_OPERATION,))


def _get_cluster(lab, request):
    return Reply(200, aks.render(lab, aks.get_cluster(lab, *request.names)).body)


def _list_clusters(lab, request):
    clusters = aks.list_clusters(lab, request.params["subscription"], request.params.get("group"))
    return paged(request, [cluster.body for cluster in clusters], lab.config("listPageSize"))


def _power(action):
    def handler(lab, request):
        return accepted(lab, request, aks.power(lab, *request.names, action))
    return handler


def _credentials(role):
    def handler(lab, request):
        return Reply(200, aks.credentials(lab, *request.names, role))
    return handler


def _put_pool(lab, request):
    pool, operation, created = aks.put_pool(lab, *request.names, request.params["pool"], request.body)
    return accepted(lab, request, operation, 201 if created else 200, pool.body, headers=(ASYNC_OPERATION,))


def _get_pool(lab, request):
    return Reply(200, aks.get_pool(lab, *request.names, request.params["pool"]).body)


def _list_pools(lab, request):
    return page([pool.body for pool in aks.list_pools(lab, *request.names)])


def _upgrade_node_image(lab, request):
    pool, operation = aks_upgrade.upgrade_node_image(lab, *request.names, request.params["pool"])
    return accepted(lab, request, operation, 202, pool.body)


ROUTES = [
    Route("GET", LOCATION + "/orchestrators",
          lambda lab, request: Reply(200, aks.orchestrators(request.params["subscription"], request.params["location"]))),
    Route("GET", LOCATION + "/kubernetesVersions", lambda lab, request: Reply(200, aks.kubernetes_versions(request.params["location"]))),
    Route("GET", "/subscriptions/{subscription}" + CLUSTERS, _list_clusters),
    Route("GET", "/subscriptions/{subscription}/resourceGroups/{group}" + CLUSTERS, _list_clusters),
    Route("PUT", CLUSTER, _put_cluster),
    Route("PATCH", CLUSTER, _patch_cluster),
    Route("GET", CLUSTER, _get_cluster),
    Route("DELETE", CLUSTER, lambda lab, request: deleting(lab, request, aks.delete_cluster(lab, *request.names))),
    Route("POST", CLUSTER + "/stop", _power("stop")),
    Route("POST", CLUSTER + "/start", _power("start")),
    Route("POST", CLUSTER + "/listClusterAdminCredential", _credentials("clusterAdmin")),
    Route("POST", CLUSTER + "/listClusterUserCredential", _credentials("clusterUser")),
    Route("GET", CLUSTER + "/agentPools", _list_pools),
    Route("GET", CLUSTER + "/upgradeProfiles/default", lambda lab, request: Reply(200, aks_upgrade.cluster_profile(lab, *request.names))),
    Route("GET", CLUSTER + "/availableAgentPoolVersions",
          lambda lab, request: Reply(200, aks_upgrade.available_pool_versions(lab, *request.names))),
    Route("GET", POOL + "/upgradeProfiles/default",
          lambda lab, request: Reply(200, aks_upgrade.pool_profile(lab, *request.names, request.params["pool"]))),
    Route("POST", POOL + "/upgradeNodeImageVersion", _upgrade_node_image),
    Route("PUT", POOL, _put_pool),
    Route("GET", POOL, _get_pool),
    Route("DELETE", POOL, lambda lab, request: deleting(lab, request, aks.delete_pool(lab, *request.names, request.params["pool"]))),
]
