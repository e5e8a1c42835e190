"""An Open311 client that gridloop's own code never saw: the `georeport` package from PyPI reads
services and requests in JSON and in XML, `requests` posts a request (georeport has no POST),
every JSON answer is checked against the GeoReport v2 JSON schemas next to this file
(georeport_v2.schema.json, with `jsonschema`), and `openapi-spec-validator` validates
/openapi.json.

    python3 open311_client.py BASE_URL API_KEY SERVICE_CODE LAT LONG

Exits 0 and prints "open311 client: ok", or fails on the first assertion.
"""

import json
import pathlib
import sys
import time

import jsonschema
import requests
from georeport import GeoReport
from openapi_spec_validator import validate

SCHEMAS = json.loads((pathlib.Path(__file__).parent / "georeport_v2.schema.json").read_text())

PERSONAL = ("Lan", "Fang", "13900000000")


def main(base, key, service_code, lat, lon):
    root = f"{base}/open311/v2"
    clients = {fmt: GeoReport(root, api_key=key, output_format=fmt) for fmt in ("json", "xml")}
    for fmt, client in clients.items():
        services = client.get_service_list()
        codes = [s["service_code"] for s in services]
        assert service_code in codes, (fmt, codes)
        assert all(s["type"] == "realtime" for s in services), fmt
        definition = client.get_service_definition(service_code)
        assert definition["service_code"] == service_code, (fmt, definition)

    fetch = lambda path, **params: conforming(requests.get(f"{root}/{path}", params=params, timeout=30))
    fetch("discovery.json").check("discovery")
    fetch("services.json").check("services")
    fetch(f"services/{service_code}.json").check("service_definition")
    fetch("services/no.such.service.json").check("errors", status=404)
    fetch("requests/0000.json").check("errors", status=404)
    fetch("tokens/not-a-token.json").check("errors", status=404)
    fetch("requests.json", start_date="2026-01-01", end_date="2026-06-01").check("errors", status=400)

    form = {
        "api_key": key,
        "service_code": service_code,
        "lat": lat,
        "long": lon,
        "description": "路灯不亮,夜间行人看不清路",
        "first_name": PERSONAL[0],
        "last_name": PERSONAL[1],
        "phone": PERSONAL[2],
    }
    posted = conforming(requests.post(f"{root}/requests.json", data=form, timeout=30)).check("request_created")
    request_id = id_of(root, posted[0])
    named = fetch(f"tokens/{request_id}.json").check("token")
    assert named == [{"service_request_id": request_id, "token": request_id}], named

    seen = {fmt: read_when_routed(client, request_id) for fmt, client in clients.items()}
    for fmt, request in seen.items():
        assert request["service_request_id"] == request_id, (fmt, request)
        assert request["status"] == "open", (fmt, request)
        assert not any(p in str(request) for p in PERSONAL), (fmt, request)
    for field in ("status", "status_notes", "agency_responsible", "service_code", "address", "expected_datetime"):
        assert seen["json"][field] == seen["xml"][field], field
    fetch(f"requests/{request_id}.json").check("requests")
    fetch("requests.json").check("requests")
    fetch("servicerequestupdates.json").check("service_request_updates")
    listed = clients["json"].get_service_requests(service_request_id=request_id)
    assert [r["service_request_id"] for r in listed] == [request_id], listed

    refused = requests.post(f"{root}/requests.json", data={"service_code": service_code}, timeout=30)
    refused = conforming(refused).check("errors", status=403)
    assert refused == [{"code": 403, "description": "api_key is required"}], refused

    validate(requests.get(f"{base}/openapi.json", timeout=30).json())
    print("open311 client: ok")


class conforming:
    """A JSON answer, checked against its GeoReport v2 schema."""

    def __init__(self, response):
        self.response = response

    def check(self, schema, status=200):
        answer = self.response
        assert answer.status_code == status, (answer.url, answer.status_code, answer.text)
        assert answer.headers["content-type"].startswith("application/json"), answer.headers
        document = answer.json()
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"#/$defs/{schema}", "$defs": SCHEMAS["$defs"]},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, (answer.url, schema, errors, document)
        return document


def id_of(root, created, within=20.0):
    """The request's id: as POST gave it, or from its token once dispatch has opened it."""
    if "service_request_id" in created:
        return created["service_request_id"]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = conforming(requests.get(f"{root}/tokens/{created['token']}.json", timeout=30)).check("token")
        if "service_request_id" in answer[0]:
            return answer[0]["service_request_id"]
        time.sleep(0.05)
    raise AssertionError(f"token {created['token']} never named a request")


def read_when_routed(client, request_id, within=20.0):
    """The request once dispatch knows it (events flow between services asynchronously)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return client.get_service_request(request_id)
        except requests.HTTPError as error:
            if error.response.status_code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


if __name__ == "__main__":
    main(*sys.argv[1:6])
