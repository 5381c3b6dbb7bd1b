"""A small Pyramid app for the README's Pyramid recipe test."""

from pyramid.config import Configurator
from pyramid.response import Response


def orders_view(request):
    return Response("orders: " + ",".join(str(n * n) for n in range(200)))


def main(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.add_route("orders", "/orders")
        config.add_view(orders_view, route_name="orders")
        return config.make_wsgi_app()
