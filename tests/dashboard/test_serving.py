"""Per-variant serving figures from Prometheus' query API (an emulator on 127.0.0.1 that
answers by series name), and the messages for no address and a stopped Prometheus."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs

from kfops.dashboard.serving import queries, serving_figures
from tests.support.http_server import json_server


def vector(*values: str) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1.0, v]} for v in values],
        },
    }


def prometheus(request):
    promql = parse_qs(request.raw_body.decode())["query"][0]
    if 'variant="candidate"' in promql:
        return 200, vector()  # no requests yet: no series
    if promql.startswith("histogram_quantile"):
        return 200, vector("0.042")
    if "status=~" in promql:
        return 200, vector("NaN")  # 0/0
    return 200, vector("12.5")


def test_figures_per_variant_and_none_where_there_is_no_series() -> None:
    with json_server(prometheus) as url:
        figures = serving_figures(url)
    assert figures["message"] == ""
    assert figures["variants"] == {
        "stable": {"rate": 12.5, "p90_seconds": 0.042, "error_ratio": None},
        "candidate": {"rate": None, "p90_seconds": None, "error_ratio": None},
    }


def test_each_figure_reads_the_servers_series_or_else_the_routers() -> None:
    promql = queries("candidate")
    assert promql["rate"].startswith('sum(rate(kfops_serving_requests_total{variant="candidate"}')
    assert (
        ' or sum(rate(kfops_router_requests_total{variant="candidate",role="served"}'
        in promql["rate"]
    )
    assert 'status=~"5.."' in promql["error_ratio"] and 'code=~"5.."' in promql["error_ratio"]


def test_a_stopped_prometheus_is_a_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    figures = serving_figures(f"http://127.0.0.1:{port}", timeout=2)
    assert figures["variants"] == {}
    assert f"127.0.0.1:{port}" in figures["message"] and "\n" not in figures["message"]


def test_no_address_says_how_to_give_one() -> None:
    assert "--prometheus" in serving_figures(None)["message"]
