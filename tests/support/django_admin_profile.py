"""Profile a logged-in Django admin page through linesman, as a user's app would be.

Run as a script: ``python django_admin_profile.py STORE PROFILER``; prints the
stored session's id. Django is set up in this process only, so the test suite's
own Django settings are never touched.
"""

from __future__ import annotations

import os
import sys


def main(store: str, profiler: str) -> str:
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

    application = ProfilingMiddleware(
        get_wsgi_application(), filename=store, profiler=profiler, include_paths="^/admin/$"
    )
    client = TestApp(
        application,
        extra_environ={
            "HTTP_HOST": "localhost",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_LINESMAN_TOKEN": application.current_signer().login_token,
        },
    )
    login = client.get("/admin/login/?next=/admin/")
    form = login.forms[0]
    form["username"], form["password"] = "admin", "secret"
    form.submit().follow()
    response = client.get("/admin/")
    assert "Site administration" in response.text, response.text[:500]
    assert application.flush(20)
    application.close()
    return response.headers["X-Linesman-Session"].split(";")[0]


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
