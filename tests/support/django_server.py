"""Serve the stock Django admin project behind linesman with waitress, as a user's
app would be, after a logged-in visit has stored real Django profiles.

Run as a script: ``python django_server.py STORE PORT``. Django is set up in
this process only, so the test suite's own settings are never touched.
"""

from __future__ import annotations

import os
import sys


def build(store: str):
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_admin.settings"
    os.environ["LINESMAN_DJANGO_DB"] = os.path.join(os.path.dirname(store), "django.db")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    User.objects.create_superuser("admin", "admin@example.com", "secret")
    from django.core.wsgi import get_wsgi_application
    from webtest import TestApp

    from linesman.middleware import ProfilingMiddleware

    application = ProfilingMiddleware(get_wsgi_application(), filename=store)
    visitor = TestApp(
        application, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "127.0.0.1"}
    )
    # A visit as a user makes it: the login page, logging in, the admin's pages.
    login = visitor.get("/admin/login/?next=/admin/")
    form = login.forms[0]
    form["username"], form["password"] = "admin", "secret"
    form.submit().follow()
    for path in (
        "/admin/",
        "/admin/auth/user/",
        "/admin/auth/group/",
        "/admin/auth/user/1/change/",
    ):
        visitor.get(path)
    visitor.get("/admin/nothing-here/", status=404)
    assert application.flush(30)
    return application


def main(store: str, port: int) -> None:
    import waitress

    waitress.serve(build(store), host="127.0.0.1", port=port, threads=4, _quiet=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
