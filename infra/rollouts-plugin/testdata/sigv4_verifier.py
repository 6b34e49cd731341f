"""Stand-in for a Lambda Function URL with AuthType AWS_IAM, for the plugin's Go tests.

It checks each request's SigV4 signature with botocore (an implementation independent of the
plugin's aws-sdk-go-v2 signer), recomputed from what arrived on the wire and the test
credentials. A bad signature gets 403 {"Message": "Forbidden", "reason": ...} as a Function URL
would answer (plus the reason, for the test's message). A good one is forwarded to the real
evaluator with a bearer token, which stands for the IAM identity the Function URL would pass on.

    python sigv4_verifier.py --port P --access-key AK --secret-key SK [--session-token T]
        --region eu-west-1 --service lambda --upstream http://127.0.0.1:Q/v1/evaluate --upstream-token TOKEN
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import re
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<scope>[^,]+), "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)


class SignatureError(Exception):
    pass


def verify(options: argparse.Namespace, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
    """Raise SignatureError unless the request is signed as AWS would require."""
    match = AUTH_HEADER.match(headers.get("authorization", ""))
    if not match:
        raise SignatureError("missing or malformed SigV4 Authorization header")
    amz_date = headers.get("x-amz-date", "")
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError as e:
        raise SignatureError(f"bad X-Amz-Date {amz_date!r}") from e
    if abs(datetime.datetime.now(datetime.UTC) - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureError("X-Amz-Date too far from now")
    expected_scope = f"{amz_date[:8]}/{options.region}/{options.service}/aws4_request"
    if match["key"] != options.access_key or match["scope"] != expected_scope:
        raise SignatureError(f"credential {match['key']}/{match['scope']} is not {expected_scope}")
    signed = match["signed"].split(";")
    for required in ("host", "x-amz-date", "x-amz-content-sha256"):
        if required not in signed:
            raise SignatureError(f"{required} is not a signed header")
    if options.session_token and headers.get("x-amz-security-token") != options.session_token:
        raise SignatureError("missing or wrong X-Amz-Security-Token")
    # botocore trusts X-Amz-Content-Sha256 as the payload hash, so check it against the body here.
    if headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
        raise SignatureError("X-Amz-Content-Sha256 is not the SHA-256 of the body")

    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{path}",
        data=body,
        headers={name: headers[name] for name in signed if name in headers},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        Credentials(options.access_key, options.secret_key, options.session_token or None),
        options.service,
        options.region,
    )
    if signer.signed_headers(signer.headers_to_sign(request)) != match["signed"]:
        raise SignatureError(f"signed headers {match['signed']} cannot be reproduced")
    canonical_request = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical_request), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError("signature does not match")


def make_handler(options: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/_verifier/health":
                self._answer(200, b'{"ok": true}')
            else:
                self._answer(404, b'{"Message": "Not Found"}')

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verify(options, "POST", self.path, headers, body)
            except SignatureError as e:
                self._answer(403, json.dumps({"Message": "Forbidden", "reason": str(e)}).encode())
                return
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            upstream = urllib.request.Request(
                options.upstream,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {options.upstream_token}",
                },
            )
            try:
                with urllib.request.urlopen(upstream, timeout=60) as response:
                    self._answer(response.status, response.read())
            except urllib.error.HTTPError as e:
                self._answer(e.code, e.read())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--session-token", default="")
    parser.add_argument("--region", required=True)
    parser.add_argument("--service", default="lambda")
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--upstream-token", required=True)
    options = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", options.port), make_handler(options)).serve_forever()


if __name__ == "__main__":
    main()
