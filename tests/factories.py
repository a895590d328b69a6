"""factory_boy factories for the shop's models."""

from __future__ import annotations

from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from shop.models import Category, Provider, ProviderService, Service


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def verified_email(user, create: bool, extracted: bool | None, **kwargs) -> None:
        """A customer who can sign in has confirmed their address (allauth's ``EmailAddress``); ``verified_email=False`` has not."""
        if create and user.email and extracted is not False and not EmailAddress.objects.filter(email__iexact=user.email).exists():
            EmailAddress.objects.create(user=user, email=user.email.lower(), verified=True, primary=True)


class ProviderFactory(DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Panel {n}")
    api_url = factory.Sequence(lambda n: f"https://panel{n}.example/api/v2")
    api_key = factory.Sequence(lambda n: f"provider-key-{n:04d}-secret")


class ProviderServiceFactory(DjangoModelFactory):
    class Meta:
        model = ProviderService

    provider = factory.SubFactory(ProviderFactory)
    upstream_id = factory.Sequence(str)
    name = factory.Sequence(lambda n: f"Followers {n}")
    type = "Default"
    category = "Followers"
    rate = Decimal("0.90")
    min_quantity = 10
    max_quantity = 100000


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class ServiceFactory(DjangoModelFactory):
    class Meta:
        model = Service

    provider_service = factory.SubFactory(ProviderServiceFactory)
    category = factory.SubFactory(CategoryFactory)
    name = factory.LazyAttribute(lambda service: service.provider_service.name)
