#!/usr/bin/env python3
"""Probe a gRPC server: health of the server and of every service it lists.

Run with the stack's venv python (deploy/stack.sh up installs grpcio there):

    "$HELPDESK_STACK_PYTHON" deploy/grpc_probe.py 127.0.0.1:50051

1. grpc.health.v1.Health/Check with service "" (the server as a whole);
2. lists services through server reflection (grpc.reflection.v1, falling back
   to grpc.reflection.v1alpha when the server does not offer v1);
3. health Check for each listed service except the health and reflection ones.

Prints one JSON object {"overall": "SERVING", "services": {"name": "SERVING", ...}}
on stdout. Exits 0 only when everything is SERVING, 1 otherwise (with a message
on stderr), 2 on bad usage.
"""

import argparse
import json
import sys

try:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2
except ImportError as exc:  # pragma: no cover - depends on the interpreter used
    sys.stderr.write(
        f"grpc_probe: {exc}; run with the stack venv python "
        "($HELPDESK_STACK_PYTHON after `eval \"$(deploy/stack.sh env)\"`)\n"
    )
    sys.exit(2)

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICES = ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection")
SKIPPED = (HEALTH_SERVICE,) + REFLECTION_SERVICES


class ProbeError(Exception):
    pass


def rpc_error_text(err: grpc.RpcError) -> str:
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else str(err)
    return f"{code.name if code else 'ERROR'}: {details}"


def health_status(stub, service: str, timeout: float) -> str:
    """The serving status name, or the gRPC error code name (e.g. NOT_FOUND)."""
    try:
        resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:
            return "NOT_FOUND"
        raise
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def list_services(channel, timeout: float):
    """Service names via reflection; v1 first, v1alpha when v1 is unimplemented.

    v1 and v1alpha have identical messages on the wire, so the v1alpha message
    classes (the only ones grpcio-reflection ships) serve both.
    """
    last = None
    for package in ("grpc.reflection.v1", "grpc.reflection.v1alpha"):
        method = channel.stream_stream(
            f"/{package}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        try:
            for resp in method(iter([request]), timeout=timeout):
                if resp.HasField("error_response"):
                    raise ProbeError(
                        f"reflection ({package}) error {resp.error_response.error_code}: "
                        f"{resp.error_response.error_message}"
                    )
                if resp.HasField("list_services_response"):
                    return package, [s.name for s in resp.list_services_response.service]
            raise ProbeError(f"reflection ({package}) returned no list_services_response")
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                last = err
                continue
            raise ProbeError(f"reflection ({package}) failed: {rpc_error_text(err)}") from err
    raise ProbeError(f"server reflection is not offered (v1 nor v1alpha): {rpc_error_text(last)}")


def probe(target: str, timeout: float) -> dict:
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as err:
            raise ProbeError(f"cannot connect to {target} within {timeout:g}s") from err
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            overall = health_status(stub, "", timeout)
        except grpc.RpcError as err:
            raise ProbeError(f"health check of {target} failed: {rpc_error_text(err)}") from err
        _, names = list_services(channel, timeout)
        services = {}
        for name in sorted(names):
            if name in SKIPPED:
                continue
            try:
                services[name] = health_status(stub, name, timeout)
            except grpc.RpcError as err:
                services[name] = err.code().name if err.code() else "ERROR"
        return {"overall": overall, "services": services}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="grpc_probe.py",
        description="Check grpc.health.v1 of a gRPC server and of every service it lists via reflection.",
        epilog='Prints {"overall": ..., "services": {...}}; exit 0 only when all are SERVING.',
    )
    parser.add_argument("target", metavar="HOST:PORT", help="server address, e.g. 127.0.0.1:50051 (insecure)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per step (default 5)")
    args = parser.parse_args(argv)

    try:
        result = probe(args.target, args.timeout)
    except ProbeError as err:
        sys.stderr.write(f"grpc_probe: {err}\n")
        return 1

    print(json.dumps(result, sort_keys=True))
    bad = {k: v for k, v in result["services"].items() if v != "SERVING"}
    if result["overall"] != "SERVING" or bad:
        parts = []
        if result["overall"] != "SERVING":
            parts.append(f'overall {result["overall"]}')
        parts += [f"{k} {v}" for k, v in sorted(bad.items())]
        sys.stderr.write("grpc_probe: not serving: " + ", ".join(parts) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
