from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_added
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from shop.accounts.languages import language_remember_at_login
        from shop.accounts.mfa import second_factor_shown_at_activation
        from shop.accounts.roles import roles_sync_after_migrate
        from shop.core import checks  # noqa: F401 - registers the start-up checks

        post_migrate.connect(roles_sync_after_migrate, sender=self)
        authenticator_added.connect(second_factor_shown_at_activation, dispatch_uid="shop-mfa-activation")
        user_logged_in.connect(language_remember_at_login, dispatch_uid="shop-language-at-login")
