"""Operation status and result URLs that clients poll (any provider namespace, any location)."""

from ..arm import Route

SUBSCRIPTION_OPERATIONS = "/subscriptions/{subscription}/providers/{namespace}/locations/{location}"

ROUTES = [
    Route("GET", SUBSCRIPTION_OPERATIONS + "/operations/{operation}", lambda lab, request: lab.operations.status_reply(request)),
    Route("GET", SUBSCRIPTION_OPERATIONS + "/operationResults/{operation}", lambda lab, request: lab.operations.result_reply(request)),
    Route("GET", "/subscriptions/{subscription}/operationresults/{operation}", lambda lab, request: lab.operations.result_reply(request)),
]
