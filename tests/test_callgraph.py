import cProfile
import pstats

from linesman import ProfilingSession
from linesman.model.callgraph import root_nodes


def leaf(n):
    return sum(range(n))


def middle():
    return leaf(100) + leaf(200)


def top():
    return middle() + leaf(5)


def test_graph_figures_equal_pstats():
    profile = cProfile.Profile()
    profile.enable()
    top()
    profile.disable()
    session = ProfilingSession(profile.getstats())
    graph = session.graph
    stats = pstats.Stats(profile).stats
    compared = 0
    for label, (cc, nc, tt, ct, _callers) in stats.items():
        file, line, name = label
        if name not in ("leaf", "middle", "top"):
            continue
        key = next(node for node in graph if graph.nodes[node]["name"] == name)
        node = graph.nodes[key]
        assert node["callcount"] - node["reccallcount"] == cc  # pstats: primitive calls
        assert node["callcount"] == nc
        assert node["inlinetime"] == tt
        assert node["totaltime"] == ct
        compared += 1
    assert compared == 3
    leaf_key = next(n for n in graph if graph.nodes[n]["name"] == "leaf")
    middle_key = next(n for n in graph if graph.nodes[n]["name"] == "middle")
    top_key = next(n for n in graph if graph.nodes[n]["name"] == "top")
    assert graph.edges[middle_key, leaf_key]["callcount"] == 2
    assert graph.edges[top_key, leaf_key]["callcount"] == 1
    assert graph.edges[top_key, middle_key]["callcount"] == 1
    assert top_key in root_nodes(graph)
    assert leaf_key not in root_nodes(graph)


def test_graph_labels_count_in_the_singular_and_never_show_minus_zero():
    from linesman.exporters.dot import signed_ms, to_dot
    from linesman.model.rows import CallStats, FunctionStats
    from linesman.model.session import ProfilingSession

    top = FunctionStats("/srv/app/views.py", 1, "index", 1, 0, 0.001, 0.003)
    leaf = FunctionStats("/srv/app/views.py", 9, "helper", 2, 0, 0.002, 0.002)
    session = ProfilingSession.from_rows(
        functions=[top, leaf], calls=[CallStats(top.key, leaf.key, 2, 0, 0.002, 0.002)]
    )
    changes = {top.key: (0.001, 0.001 - 1e-7), leaf.key: (0.0042, 0.0084)}
    dot = to_dot(session.call_index, 0.0, "GET /", changes=changes, change_total=0.01)
    assert "· 1 call\\n" in dot and "· 2 calls\\n" in dot and "1 calls" not in dot
    assert "-0.00" not in dot and "own time ±0.00 ms" in dot
    assert "own time +4.20 ms (+100%)" in dot
    assert signed_ms(-0.0031) == "-3.10" and signed_ms(-0.000001) == "±0.00"


def test_a_change_is_coloured_by_how_much_the_function_itself_changed():
    """A function 20% slower stands out even beside one that gained 100 ms; a change
    too small to matter is grey, not a faint red."""
    from linesman.exporters.dot import UNCHANGED, change_shade, percent_text

    total = 0.200
    twenty = change_shade(0.010, 0.012, total)  # +2 ms, +20%
    huge = change_shade(0.050, 0.150, total)  # +100 ms, +200%
    assert twenty.startswith("#ff") and twenty != "#ffffff"
    assert int(twenty[3:5], 16) <= 170, twenty  # a clear red, not near white
    assert huge == "#ff4b4b"  # the deepest
    assert change_shade(0.010, 0.0101, total) == UNCHANGED  # 0.1 ms of 200 ms
    assert change_shade(0.012, 0.010, total).endswith("ff")  # faster: blue
    assert change_shade(0.0, 0.005, total) == "#ff4b4b"  # new
    assert percent_text(0.010, 0.012) == " (+20%)"
    assert percent_text(0.0, 0.005) == " (new)"
    assert percent_text(0.010, 0.010) == ""
