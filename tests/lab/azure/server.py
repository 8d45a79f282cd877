"""The HTTP layer: a Starlette app (identity, metadata, admin, ARM) served by uvicorn over TLS on 127.0.0.1, and IMDS on plain http."""

import asyncio
import contextlib
import json
import logging
import os
import socket
import urllib.parse
import uuid

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from .. import pki
from . import admin, imds
from .arm import ArmError, ArmRequest, Reply, Router, dumps
from .emulator import Emulator
from .faults import Faults, LabMiddleware, RequestLog
from .identity import AadError
from .models import rbac, resources
from .routes import ROUTES
from .throttling import Throttle

LOG = logging.getLogger("lab.azure")


class AnyPathConvertor(Convertor):
    """Any path, control characters included (Starlette's ``path`` stops at a newline), so ARM's rules can refuse them."""

    regex = "(?s:.*)"

    def convert(self, value):
        return value

    def to_string(self, value):
        return value


register_url_convertor("anypath", AnyPathConvertor())
ARM_METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
ROUTER = Router(ROUTES)


def _render(reply, head=False):
    headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4())}
    headers.update(reply.headers)
    if head:
        return Response(status_code=204 if reply.status == 200 else reply.status, headers=headers)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return Response(dumps(reply.body), status_code=reply.status, headers=headers, media_type="application/json; charset=utf-8")


async def _body(request):
    if "content-length" not in request.headers and "transfer-encoding" not in request.headers:
        return {}  # HTTP/1.1: a request with neither header has no body (most GETs), so none is awaited
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}.") from exc
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
    return body


async def arm(request):
    """Every ARM call: authenticate, throttle, check the subscription, route case-insensitively, authorize, run the handler in one transaction."""
    lab = request.app.state.lab
    head = request.method == "HEAD"
    # the decoded path as sent: request.url.path goes through urlsplit, which drops tabs and newlines
    path = request.scope["path"]
    rate_limits = {}
    try:
        claims = lab.identity.authenticate(request.headers.get("authorization"))
        rate_limits = request.app.state.throttle.take(claims, request.method, path)
        resources.check_path_subscription(lab, path)
        handler, params = ROUTER.match(request.method, path)
        rbac.authorize(lab, request.method, path, claims)
        call = ArmRequest(request.method, path, params, dict(request.query_params), await _body(request), lab.base_url, claims)
        lab.advance()
        if request.method in ("GET", "HEAD"):
            reply = handler(lab, call)
        else:
            with lab.store.transaction():
                reply = handler(lab, call)
    except ArmError as error:
        reply = Reply(error.status, {"error": error.error()}, error.headers)
    except Exception:  # pylint: disable=broad-exception-caught
        LOG.exception("unhandled error in %s %s", request.method, path)  # ARM answers 500 with its envelope
        reply = Reply(500, {"error": {"code": "InternalServerError", "message": "The lab emulator failed to handle the request."}})
    reply.headers = rate_limits | reply.headers
    return _render(reply, head)


async def openid_configuration(request):
    """MSAL's tenant discovery."""
    try:
        return JSONResponse(request.app.state.lab.identity.openid_configuration(request.path_params["tenant"]))
    except AadError as error:
        return JSONResponse(error.body, status_code=error.status)


async def openid_configuration_v1(request):
    """The v1 discovery document (issuer of the v1 access tokens) that relying parties such as kube-apiserver read."""
    try:
        return JSONResponse(request.app.state.lab.identity.openid_configuration_v1(request.path_params["tenant"]))
    except AadError as error:
        return JSONResponse(error.body, status_code=error.status)


async def signing_keys(request):
    """The ``jwks_uri`` of both discovery documents: the token signing keys."""
    return JSONResponse(request.app.state.lab.identity.jwks())


async def token(request):
    """Client-credentials tokens (v2 with ``scope``, v1 with ``resource``)."""
    form = dict(urllib.parse.parse_qsl((await request.body()).decode()))
    try:
        return JSONResponse(request.app.state.lab.identity.token(request.path_params["tenant"], form))
    except AadError as error:
        return JSONResponse(error.body, status_code=error.status)


async def metadata_endpoints(request):
    """Cloud discovery for custom-cloud clients, shaped by the api-version as ARM answers it."""
    try:
        return JSONResponse(request.app.state.lab.identity.metadata_endpoints(request.query_params.get("api-version")))
    except ArmError as error:
        return JSONResponse({"error": error.error()}, status_code=error.status)


async def metadata_clouds(request):
    """Cloud discovery as a list (for loaders of a whole metadata URL)."""
    return JSONResponse([request.app.state.lab.identity.cloud()])


async def _tick(lab):
    while True:
        await asyncio.sleep(lab.profile.tick)
        try:
            lab.advance()
        except Exception:  # pylint: disable=broad-exception-caught
            LOG.exception("completing operations failed")  # keep ticking: the next tick or request retries


def build_app(lab):
    """The ASGI application around an emulator."""
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        ticker = asyncio.create_task(_tick(lab))
        yield
        ticker.cancel()

    app = Starlette(routes=admin.ROUTES + [
        Route("/metadata/endpoints", metadata_endpoints),
        Route("/metadata/clouds", metadata_clouds),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
        Route("/{tenant}/.well-known/openid-configuration", openid_configuration_v1),
        Route("/{tenant}/discovery/v2.0/keys", signing_keys),
        Route("/common/discovery/keys", signing_keys),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token, methods=["POST"]),
        Route("/{path:anypath}", arm, methods=ARM_METHODS),
    ], lifespan=lifespan)
    app.state.lab = lab
    app.state.faults = Faults(lab.store)
    app.state.throttle = Throttle(lab)
    app.state.request_log = RequestLog()
    return LabMiddleware(app, lab, app.state.faults, app.state.request_log)


class LabH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, handing the transport to the app so a fault rule can reset the connection."""

    def connection_made(self, transport):
        super().connection_made(transport)
        app = self.app

        async def with_transport(scope, receive, send):
            scope.setdefault("extensions", {})["lab.transport"] = transport
            await app(scope, receive, send)

        self.app = with_transport

    def shutdown(self):
        """Drop idle keep-alive connections at once (a TLS close would wait for the client's close_notify)."""
        super().shutdown()
        if self.cycle is None or self.cycle.response_complete:
            self.transport.abort()


class SecondServer(uvicorn.Server):
    """A server beside the main one in the same process: the main server handles the stop signals, this one is stopped after it."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def certificates(state_dir):
    """The lab CA and the server certificate (``ca.pem``, ``server.pem``, ``server-key.pem``); returns their paths.

    Made once in the state folder and reused on every start, so a client that trusts the lab CA
    keeps trusting the server across restarts.
    """
    paths = [os.path.join(state_dir, name) for name in ("ca.pem", "server.pem", "server-key.pem")]
    if not all(os.path.exists(path) for path in paths):
        authority = pki.Authority(pki.name("kubedisk lab CA", "kubedisk lab"))
        key, certificate = authority.issue(pki.name("localhost", "kubedisk lab"), server_names=("localhost", "127.0.0.1"))
        pki.write(paths[0], pki.certificate_pem(authority.certificate))
        pki.write(paths[1], pki.certificate_pem(certificate))
        pki.write(paths[2], pki.private_pem(key), private=True)
    return paths


def describe(lab, port, ca_path, imds_port):
    """What ``azure.json`` tells clients."""
    credentials = lab.credentials
    return {
        "url": lab.base_url, "port": port, "ca": ca_path, "tenant": credentials["tenant_id"],
        "client_id": credentials["client_id"], "client_secret": credentials["client_secret"],
        "subscription_id": credentials["subscription_id"], "authority": lab.base_url,
        "admin_url": f"{lab.base_url}/_lab", "imds_url": f"http://127.0.0.1:{imds_port}", "imds_port": imds_port, "pid": os.getpid(),
    }


def _listen(port):
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle adds ~40 ms per answer).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    return listener


async def serve(state_dir, port=0, profile=None):
    """Run the emulator until stopped; ``azure.json`` appears in ``state_dir`` once it listens."""
    os.makedirs(state_dir, exist_ok=True)
    ca_path, cert_path, key_path = certificates(state_dir)
    listener = _listen(port)
    port = listener.getsockname()[1]
    lab = Emulator(state_dir, profile)
    lab.base_url = f"https://127.0.0.1:{port}"
    # IMDS keeps its port across restarts, as the link-local address never changes for a VM's clients.
    imds_listener = _listen(lab.store.setting(imds.PORT_SETTING, 0))
    imds_port = imds_listener.getsockname()[1]
    with lab.store.transaction():
        lab.store.set_setting(imds.PORT_SETTING, imds_port)
    imds_server = SecondServer(uvicorn.Config(imds.build_app(lab), log_level="warning", access_log=False, lifespan="off",
                                              timeout_graceful_shutdown=5))
    imds_task = asyncio.create_task(imds_server.serve(sockets=[imds_listener]))
    config = uvicorn.Config(build_app(lab), ssl_certfile=cert_path, ssl_keyfile=key_path, http=LabH11Protocol,
                            log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30,
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    info_path = os.path.join(state_dir, "azure.json")
    with contextlib.suppress(FileNotFoundError):
        os.remove(info_path)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not (server.started and imds_server.started) and not task.done() and not imds_task.done():
        await asyncio.sleep(0.02)
    if server.started and imds_server.started:
        temporary = info_path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(describe(lab, port, ca_path, imds_port), handle, indent=2)
        os.replace(temporary, info_path)
    try:
        await task
    finally:
        imds_server.should_exit = True
        await imds_task
    lab.store.close()
