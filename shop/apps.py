from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from shop.accounts.roles import roles_sync_after_migrate
        from shop.core import checks  # noqa: F401 - registers the start-up checks

        post_migrate.connect(roles_sync_after_migrate, sender=self)
