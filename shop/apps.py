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
        from shop.core.admin import unfold_speedups

        post_migrate.connect(roles_sync_after_migrate, sender=self)
        post_migrate.connect(_figures_triggers_after_migrate, sender=self, dispatch_uid="shop-figures-triggers")
        unfold_speedups()
        authenticator_added.connect(second_factor_shown_at_activation, dispatch_uid="shop-mfa-activation")
        user_logged_in.connect(language_remember_at_login, dispatch_uid="shop-language-at-login")


def _figures_triggers_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """SQLite drops a table's triggers when a migration rebuilds it: the dashboard's rollup triggers are put back."""
    from django.db import connections

    from shop.migrations._triggers import order_figures_ensure

    order_figures_ensure(connections[using])
