"""The floor: a hand-written Lambda handler; and the floor under daloy_edge's contract."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

Handler = Callable[[dict, object], dict]


def build(secure: bool) -> Handler:
    if not secure:

        def handler(event: dict, context: object) -> dict:
            return {
                "statusCode": 200,
                "headers": {"content-type": "application/json"},
                "body": json.dumps({"ok": True}),
            }

        return handler

    import jwt

    from bench.anchors.common import AUDIENCE, ISSUER, ORIGIN, SECURITY_HEADERS, public_pem

    key = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(public_pem())

    def secure_handler(event: dict, context: object) -> dict:
        headers = event.get("headers") or {}
        out = dict(SECURITY_HEADERS)
        out["content-security-policy"] = (
            f"script-src 'nonce-{secrets.token_urlsafe(16)}' 'strict-dynamic'; object-src 'none'"
        )
        if headers.get("origin") == ORIGIN:
            out["access-control-allow-origin"] = ORIGIN
            out["vary"] = "Origin"
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return {"statusCode": 401, "headers": out, "body": ""}
        try:
            jwt.decode(auth[7:], key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError:
            return {"statusCode": 401, "headers": out, "body": ""}
        out["content-type"] = "application/json"
        return {"statusCode": 200, "headers": out, "body": json.dumps({"ok": True})}

    return secure_handler


def build_contract() -> Handler:
    """:func:`build` plus what every daloy_edge response must carry (``X-Request-Id``,
    ``Server-Timing``) and the OTel-shaped JSON log line ``App()`` writes on stdout
    (without its EMF members), all written by hand: no checks, no routing."""
    import os
    import sys
    import time
    from json.encoder import encode_basestring_ascii as escape

    resource = (
        '{"telemetry.sdk.name":"daloy-edge","telemetry.sdk.language":"python",'
        '"cloud.provider":"aws","cloud.platform":"aws_lambda","service.name":"bench",'
        '"daloy.runtime":"aws-lambda"}'
    )

    def handler(event: dict, context: object) -> dict:
        start_ns = time.time_ns()
        started = time.perf_counter()
        headers = event.get("headers") or {}
        http = event["requestContext"]["http"]
        trace = headers.get("x-amzn-trace-id", "")
        ids = os.urandom(24).hex()
        trace_id = trace[7:15] + trace[16:40] if trace[:7] == "Root=1-" else ids[16:]
        request_id = f"{ids[:8]}-{ids[8:12]}-4{ids[13:16]}-a{ids[17:20]}-{ids[20:32]}"
        body = json.dumps({"ok": True})
        total = (time.perf_counter() - started) * 1000
        result = {
            "statusCode": 200,
            "headers": {
                "content-type": "application/json",
                "x-request-id": request_id,
                "server-timing": f"handler;dur=0.01, total;dur={total:.2f}",
            },
            "body": body,
        }
        agent = headers.get("user-agent", "")
        sys.stdout.write(
            f'{{"Timestamp":"{start_ns}","ObservedTimestamp":"{time.time_ns()}",'
            '"SeverityText":"INFO","SeverityNumber":9,"Body":"GET /hello 200",'
            '"EventName":"http.server.request","Attributes":{"http.request.method":"GET",'
            f'"url.path":{escape(http["path"])},"url.scheme":"https",'
            '"http.response.status_code":200,'
            f'"http.server.request.duration":{time.perf_counter() - started:.6f},'
            f'"http.request.id":"{request_id}","http.route":"/hello",'
            f'"client.address":{escape(http["sourceIp"])},"user_agent.original":{escape(agent)},'
            f'"server.address":{escape(headers.get("host", ""))},"http.response.body.size":11,'
            f'"faas.invocation_id":{escape(getattr(context, "aws_request_id", ""))}}},'
            f'"TraceId":"{trace_id}","SpanId":"{ids[32:]}","TraceFlags":"01",'
            f'"Resource":{resource}}}\n'
        )
        sys.stdout.flush()
        return result

    return handler
