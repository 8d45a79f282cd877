"""Filters of the demo: which zone each node is in, and which nodes each zone has."""

ZONE_LABEL = "topology.kubernetes.io/zone"


def zone_of_nodes(nodes):
    """{node name: zone} of Node resources (as kubernetes.core.k8s_info returns them)."""
    return {node["metadata"]["name"]: node["metadata"]["labels"][ZONE_LABEL] for node in nodes}


def nodes_of_zones(nodes):
    """{zone: [node names, sorted]} of Node resources, zones sorted."""
    zones = {}
    for name, zone in sorted(zone_of_nodes(nodes).items()):
        zones.setdefault(zone, []).append(name)
    return dict(sorted(zones.items()))


class FilterModule:
    def filters(self):
        return {"zone_of_nodes": zone_of_nodes, "nodes_of_zones": nodes_of_zones}
