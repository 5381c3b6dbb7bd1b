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
