"""An Open311 client that gridloop's own code never saw: the `georeport` package from PyPI reads
services and requests in JSON and in XML, `requests` posts a request (georeport has no POST), and
`openapi-spec-validator` validates /openapi.json.

    python3 open311_client.py BASE_URL API_KEY SERVICE_CODE LAT LONG

Exits 0 and prints "open311 client: ok", or fails on the first assertion.
"""

import sys
import time

import requests
from georeport import GeoReport
from openapi_spec_validator import validate

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
    posted = requests.post(f"{root}/requests.json", data=form, timeout=30)
    assert posted.status_code == 200, posted.text
    request_id = posted.json()[0]["service_request_id"]

    seen = {fmt: read_when_routed(client, request_id) for fmt, client in clients.items()}
    for fmt, request in seen.items():
        assert request["service_request_id"] == request_id, (fmt, request)
        assert request["status"] == "open", (fmt, request)
        assert not any(p in str(request) for p in PERSONAL), (fmt, request)
    for field in ("status", "status_notes", "agency_responsible", "service_code", "address", "expected_datetime"):
        assert seen["json"][field] == seen["xml"][field], field
    listed = clients["json"].get_service_requests(service_request_id=request_id)
    assert [r["service_request_id"] for r in listed] == [request_id], listed

    refused = requests.post(f"{root}/requests.json", data={"service_code": service_code}, timeout=30)
    assert refused.status_code == 403, refused.text
    assert refused.json() == [{"code": 403, "description": "api_key is required"}], refused.text

    validate(requests.get(f"{base}/openapi.json", timeout=30).json())
    print("open311 client: ok")


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
