from django.http import HttpResponse
from django.urls import path


def invoice_view(request):
    return HttpResponse("invoice " + str(sum(n * n for n in range(500))))


urlpatterns = [path("invoice", invoice_view)]
