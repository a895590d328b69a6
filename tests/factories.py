"""factory_boy factories for the shop's models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from shop.models import Provider


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"customer{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class ProviderFactory(DjangoModelFactory):
    class Meta:
        model = Provider

    name = factory.Sequence(lambda n: f"Panel {n}")
    api_url = factory.Sequence(lambda n: f"https://panel{n}.example/api/v2")
    api_key = factory.Sequence(lambda n: f"provider-key-{n:04d}-secret")
