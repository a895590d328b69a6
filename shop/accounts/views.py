"""Sign-up (answered the same whether or not the address is registered), activation by the mailed link, and the limited password reset."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from shop.accounts.forms import SignupForm
from shop.accounts.signup import SignupRefused, TooManySignups, activation_link_lifetime, signup_activate, signup_register
from shop.accounts.throttles import password_reset_limit_hit
from shop.affiliates.views import referral_code_of
from shop.core.client_address import client_address


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("order-new")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            signup_register(
                username=data["username"],
                email=data["email"],
                password=data["password1"],
                address=client_address(request),
                site_url=request.build_absolute_uri("/").rstrip("/"),
                referral_code=referral_code_of(request),
            )
        except SignupRefused as exc:
            form.add_error(None, str(exc))
            status = 429 if isinstance(exc, TooManySignups) else 200
            return render(request, "registration/signup.html", {"form": form}, status=status)
        return redirect("signup-done")
    return render(request, "registration/signup.html", {"form": form})


@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/signup_done.html", {"link_lifetime": activation_link_lifetime()})


@require_GET
def signup_activation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    user = signup_activate(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "registration/signup_activation_invalid.html")
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, f"Welcome, {user.get_username()}! Add funds to your balance to start ordering.")
    return redirect("order-new")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, with at most ``PASSWORD_RESET_ADDRESS_LIMIT`` mails an hour per network and ``PASSWORD_RESET_EMAIL_LIMIT`` per address.

    The per-address limit counts whether or not an account uses the address,
    so its answer, like the "check your email" page, reveals nothing.
    """

    def form_valid(self, form) -> HttpResponse:
        message = password_reset_limit_hit(address=client_address(self.request), email=form.cleaned_data["email"])
        if message is not None:
            form.add_error(None, message)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)
