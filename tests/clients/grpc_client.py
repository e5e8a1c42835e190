"""A city platform's first integration script, with a gRPC client generated from gridloop's
`proto/` at run time (PyPI's `grpcio` and `grpcio-tools`; nothing generated is kept). It takes
cases around the loop back to back — report, read at once, accept, resolve, evaluate at once —
passing each write's consistency token (`case_version`, `version`) to the next call, and fails on
any refusal: a NOT_FOUND, a FAILED_PRECONDITION, an UNAVAILABLE, anything but OK.

    python3 grpc_client.py --data-dir DIR (--server URL | --intake URL --dispatch URL --evaluation URL)
                           [--cases 200] [--gridloop BINARY]

Credentials as the `gridloop` CLI finds them: tokens minted with the installation's signing key
in DIR (`gridloop token issue`, which `gridloop up` creates on its first start): the admin for
staff's calls, the hotline for the reporter's evaluation (a callback role). The server should
run with `GRIDLOOP_DUPLICATE_RADIUS_M=0` (every report opens its own case) and
`GRIDLOOP_RATE_LIMIT=0` (one principal sends every call).

Exits 0 and prints "grpc client: ok …", or prints every failed call and exits 1.
"""

import argparse
import concurrent.futures
import importlib
import pathlib
import subprocess
import sys
import tempfile
import threading

import grpc

PROTO_ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"
PROTO_FILES = ["common", "events", "intake", "dispatch", "mediation", "evaluation"]
# Clients driving cases at the same time, each one case after another.
CLIENTS = 4


def generate(into):
    """The Python modules of gridloop/v1/*.proto, generated into `into` and imported."""
    protos = [f"gridloop/v1/{name}.proto" for name in PROTO_FILES]
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={into}",
               f"--grpc_python_out={into}", *protos]
    subprocess.run(command, check=True)
    sys.path.insert(0, str(into))
    modules = {}
    for name in ("common", "intake", "dispatch", "evaluation"):
        modules[name] = importlib.import_module(f"gridloop.v1.{name}_pb2")
        modules[f"{name}_grpc"] = importlib.import_module(f"gridloop.v1.{name}_pb2_grpc")
    return argparse.Namespace(**modules)


def token(gridloop, data_dir, role, subject):
    """A token minted with the installation's key, as `gridloop token issue` prints it."""
    command = [gridloop, "token", "issue", "--role", role, "--subject", subject, "--ttl", "1h",
               "--data-dir", data_dir]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def channel(url):
    return grpc.insecure_channel(url.removeprefix("http://"))


class Refusals:
    """Every call that did not answer OK, with the case and the step it belonged to."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failed = []

    def call(self, what, case, method, request, metadata):
        try:
            return method(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            with self.lock:
                self.failed.append(f"{what} of case {case}: {error.code().name}: {error.details()}")
            return None


class Loop:
    def __init__(self, pb, urls, staff, callback):
        self.pb = pb
        self.intake = pb.intake_grpc.IntakeServiceStub(channel(urls["intake"]))
        self.dispatch = pb.dispatch_grpc.DispatchServiceStub(channel(urls["dispatch"]))
        self.evaluation = pb.evaluation_grpc.EvaluationServiceStub(channel(urls["evaluation"]))
        self.staff = [("authorization", f"Bearer {staff}")]
        self.callback = [("authorization", f"Bearer {callback}")]
        self.refusals = Refusals()

    def grid_category_and_points(self):
        """A category the grid settles (no check on site), and a point inside every grid."""
        common = self.pb.common
        catalog = self.intake.GetCatalog(self.pb.intake.GetCatalogRequest(), metadata=self.staff)
        category = next(c.code for c in catalog.categories if c.start_level == common.LEVEL_GRID)
        tree = self.intake.GetJurisdiction(self.pb.intake.GetJurisdictionRequest(), metadata=self.staff)
        points = [(n.interior_point.lat, n.interior_point.lon) for n in tree.nodes if n.level == common.LEVEL_GRID]
        assert points, "the jurisdiction has grids"
        return category, points

    def take_around(self, index, category, point, run):
        """One case from report to evaluation, each call naming the version the write before returned."""
        pb, call = self.pb, self.refusals.call
        report = pb.intake.ReportCaseRequest(
            client_key=f"python-client-{run}-{index}",
            category_code=category,
            location=pb.common.GeoPoint(lat=point[0], lon=point[1]),
            description=f"第{index}号: 楼道堆放杂物",
            reporter=pb.common.Reporter(kind=pb.common.REPORTER_KIND_RESIDENT),
            channel=pb.common.CHANNEL_RESIDENT_APP,
        )
        reported = call("ReportCase", index, self.intake.ReportCase, report, self.staff)
        if reported is None:
            return
        case = reported.case_id
        assert not reported.linked, f"case {case} was linked: start the server with GRIDLOOP_DUPLICATE_RADIUS_M=0"
        get = pb.dispatch.GetCaseRequest(case_id=case, min_version=reported.case_version)
        shown = call("GetCase right after the report", case, self.dispatch.GetCase, get, self.staff)
        if shown is None:
            return
        assert shown.case.state == pb.common.CASE_STATE_DISPATCHED, (case, shown.case.state)
        if index % 10 == 0:
            self.listed(case, reported)
        accept = pb.dispatch.AcceptCaseRequest(case_id=case, assignee="网格员张三", min_version=shown.case.version)
        accepted = call("AcceptCase", case, self.dispatch.AcceptCase, accept, self.staff)
        if accepted is None:
            return
        resolve = pb.dispatch.ResolveCaseRequest(case_id=case, summary="已清理", min_version=accepted.version)
        resolved = call("ResolveCase", case, self.dispatch.ResolveCase, resolve, self.staff)
        if resolved is None:
            return
        evaluate = pb.evaluation.EvaluateCaseRequest(
            case_id=case,
            satisfaction=pb.common.SATISFACTION_SATISFIED,
            min_version=resolved.version,
            expected_version=resolved.version,
        )
        evaluated = call("EvaluateCase right after the resolution", case, self.evaluation.EvaluateCase, evaluate,
                         self.callback)
        if evaluated is not None:
            assert evaluated.satisfaction == pb.common.SATISFACTION_SATISFIED, (case, evaluated)

    def listed(self, case, reported):
        """ListCases right after the report, with the report's token, lists the case."""
        request = self.pb.evaluation.ListCasesRequest(
            area=reported.grid_code, page_size=500, min_case_id=case, min_version=reported.case_version)
        answer = self.refusals.call("ListCases right after the report", case, self.evaluation.ListCases, request,
                                    self.staff)
        if answer is not None:
            assert any(c.case_id == case for c in answer.cases), f"case {case} listed right after its report"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="the installation's data directory (its signing key)")
    parser.add_argument("--server", help="one address for all services (gridloop up)")
    for service in ("intake", "dispatch", "evaluation"):
        parser.add_argument(f"--{service}", help=f"the {service} service's address (distributed mode)")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--gridloop", default="gridloop", help="the gridloop binary that mints the tokens")
    args = parser.parse_args()
    urls = {s: getattr(args, s) or args.server for s in ("intake", "dispatch", "evaluation")}
    if not all(urls.values()):
        parser.error("give --server, or --intake, --dispatch and --evaluation")

    with tempfile.TemporaryDirectory(prefix="gridloop-pb-") as generated:
        pb = generate(generated)
        staff = token(args.gridloop, args.data_dir, "admin", "python-grpc-client")
        callback = token(args.gridloop, args.data_dir, "hotline", "12345-hotline")
        loop = Loop(pb, urls, staff, callback)
        category, points = loop.grid_category_and_points()
        run = pathlib.Path(generated).name
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            cases = [pool.submit(loop.take_around, i, category, points[i % len(points)], run) for i in range(args.cases)]
            for case in cases:
                case.result()

    failed = loop.refusals.failed
    for line in failed:
        print(line, file=sys.stderr)
    if failed:
        print(f"grpc client: {len(failed)} calls refused over {args.cases} cases", file=sys.stderr)
        sys.exit(1)
    print(f"grpc client: ok, {args.cases} cases reported, read, accepted, resolved and evaluated, none refused")


if __name__ == "__main__":
    main()
