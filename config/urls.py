from allauth.account import views as allauth_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from shop.accounts import passwords
from shop.accounts import views as accounts
from shop.affiliates import views as affiliates
from shop.notifications import views as notifications
from shop.observability import views as observability
from shop.payments import views as payments
from shop.reseller_api import views as reseller_api
from shop.storefront import brand_views
from shop.storefront import views as storefront
from shop.storefront import views_language as storefront_language
from shop.storefront import views_mass as storefront_mass
from shop.storefront import views_refills as storefront_refills
from shop.storefront import views_updates as storefront_updates
from shop.support import views as support

# The admin's login is allauth's, so a second factor is asked for there too (https://docs.allauth.org/en/latest/common/admin.html).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", storefront.home, name="home"),
    path("services/", storefront.services, name="services"),
    path("services.json", storefront.services_json, name="services-json"),
    path("updates/", storefront_updates.service_updates, name="service-updates"),
    path("updates/feed/", storefront_updates.ServiceUpdatesFeed(), name="service-updates-feed"),
    path("order/", storefront.order_new, name="order-new"),
    path("order/mass/", storefront_mass.order_mass, name="order-mass"),
    path("orders/", storefront.orders, name="orders"),
    path("orders/status.json", storefront.orders_status_json, name="orders-status"),
    path("orders/refills/", storefront_refills.refills, name="refills"),
    path("orders/<int:pk>/", storefront.order_detail, name="order-detail"),
    path("orders/<int:pk>/refill/", storefront.order_refill_request, name="order-refill"),
    path("orders/<int:pk>/cancel/", storefront.order_cancel_request, name="order-cancel"),
    path("balance/", storefront.balance, name="balance"),
    path("funds/", payments.funds_add, name="funds-add"),
    path("funds/history/", payments.topups, name="topups"),
    path("funds/<uuid:public_id>/", payments.topup_detail, name="topup-detail"),
    path("funds/<uuid:public_id>/status.json", payments.topup_status_json, name="topup-status"),
    # Gateways' servers post here (csrf-exempt; the gateway module verifies each notification).
    path("payments/notify/<slug:code>/", payments.payment_notify, name="payment-notify"),
    path("support/", support.tickets, name="tickets"),
    path("support/new/", support.ticket_new, name="ticket-new"),
    path("support/<int:pk>/", support.ticket_detail, name="ticket-detail"),
    path("support/<int:pk>/close/", support.ticket_close_request, name="ticket-close"),
    path("api/v2", reseller_api.api_v2, name="api-v2"),
    path("api/v2/", reseller_api.api_v2),
    path("account/api/", reseller_api.api_page, name="api-page"),
    path("affiliates/", affiliates.affiliates, name="affiliates"),
    path("affiliates/payout/", affiliates.affiliates_payout, name="affiliates-payout"),
    path("r/<str:code>/", affiliates.referral_landing, name="referral-landing"),
    path("account/notifications/", notifications.notification_settings, name="notification-settings"),
    path("account/api/new-key/", reseller_api.api_key_new, name="api-key-new"),
    # django-allauth's accounts (https://docs.allauth.org/en/latest/installation/quickstart.html), the shop's
    # names beside allauth's for the pages every other page links to. Before allauth's own: sign-up and reset
    # mails are limited per network and per address; a new password also revokes the API key.
    path("accounts/login/", allauth_views.login, name="login"),
    path("accounts/logout/", allauth_views.logout, name="logout"),
    path("accounts/signup/", accounts.SignupView.as_view(), name="signup"),
    path("accounts/password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/change/", login_required(passwords.PasswordChangeView.as_view()), name="password_change"),
    re_path(
        r"^accounts/password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        passwords.PasswordResetFromKeyView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include("allauth.urls")),
    path("brand/logo", brand_views.brand_logo, name="brand-logo"),
    path("brand/theme.css", brand_views.brand_theme, name="brand-theme"),
    # The language switcher, and the translations the pages' scripts use (an external script: no inline script under the CSP).
    path("language/", storefront_language.language_set, name="language-set"),
    # Cached by the browser for an hour, per language (the response varies on the cookie and Accept-Language).
    path("jsi18n/", cache_control(max_age=3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("healthz", storefront.healthz, name="healthz"),
    # Monitoring (README, "Observability"): Prometheus' scrape (bearer token) and the health checks.
    path("metrics", observability.metrics, name="metrics"),
    path("health/", observability.health, name="health"),
    path("admin/", admin.site.urls),
]
