from django.contrib import admin
from django.urls import include, path

from shop import views, views_api

urlpatterns = [
    path("", views.home, name="home"),
    path("services/", views.services, name="services"),
    path("services.json", views.services_json, name="services-json"),
    path("order/", views.order_new, name="order-new"),
    path("orders/", views.orders, name="orders"),
    path("orders/status.json", views.orders_status_json, name="orders-status"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
    path("orders/<int:pk>/refill/", views.order_refill_request, name="order-refill"),
    path("orders/<int:pk>/cancel/", views.order_cancel_request, name="order-cancel"),
    path("balance/", views.balance, name="balance"),
    path("api/v2", views_api.api_v2, name="api-v2"),
    path("api/v2/", views_api.api_v2),
    path("account/api/", views_api.api_page, name="api-page"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
