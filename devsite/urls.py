from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/link_tracking/", include("link_tracking_publisher.api.urls")),
]
