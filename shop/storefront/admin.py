"""Admin for the shop's branding: one row (name, tagline, accent colour, logo), saved through ``branding_save``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from shop.core.admin import ShopAdmin
from shop.storefront.branding import branding_current, branding_save, logo_check
from shop.storefront.colours import accent_clean
from shop.storefront.models import LOGO_MAX_BYTES, Branding


class BrandingForm(forms.ModelForm):
    logo_file = forms.FileField(
        label="Logo",
        required=False,
        help_text=f"PNG, JPEG or WebP, at most {LOGO_MAX_BYTES // 1024} KB; shown 32 px high beside the name. SVG is not accepted.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    class Meta:
        model = Branding
        fields = ["name", "tagline", "accent"]
        widgets = {"accent": forms.TextInput(attrs={"placeholder": "#3450c4", "size": 8})}

    def clean_accent(self) -> str:
        return accent_clean(self.cleaned_data.get("accent", ""))

    def clean_logo_file(self) -> tuple[bytes, str] | None:
        upload = self.cleaned_data.get("logo_file")
        if not upload:
            return None
        if upload.size > LOGO_MAX_BYTES:
            kb = upload.size / 1024
            raise ValidationError(
                f"The logo is {kb:.0f} KB; it may be at most {LOGO_MAX_BYTES // 1024} KB. Save it smaller and upload it again."
            )
        data = upload.read(LOGO_MAX_BYTES + 1)
        return data, logo_check(data)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("logo_file") and data.get("remove_logo"):
            self.add_error("remove_logo", "Either upload a new logo or remove the current one, not both.")
        return data


@admin.register(Branding)
class BrandingAdmin(ShopAdmin):
    form = BrandingForm
    list_display = ["__str__", "name", "accent", "has_logo"]
    fieldsets = [
        (None, {"fields": ["name", "tagline"]}),
        ("Colour", {"fields": ["accent", "accent_preview"]}),
        ("Logo", {"fields": ["logo_preview", "logo_file", "remove_logo"]}),
    ]
    readonly_fields = ["accent_preview", "logo_preview"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Branding.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Branding, form: BrandingForm, change: bool) -> None:
        branding_save(branding=obj, logo=form.cleaned_data.get("logo_file"), remove_logo=form.cleaned_data.get("remove_logo", False))

    @admin.display(boolean=True, description="logo")
    def has_logo(self, obj: Branding) -> bool:
        return bool(obj.logo_type)

    @admin.display(description="as shown")
    def accent_preview(self, obj: Branding) -> str:
        if not obj.accent:
            return "The theme's own blue."
        # A colour swatch without a style attribute (the pages' Content-Security-Policy allows none).
        return format_html('<input type="color" value="{}" disabled aria-label="Accent colour sample"> {}', obj.accent, obj.accent)

    @admin.display(description="current logo")
    def logo_preview(self, obj: Branding) -> str:
        if not obj.logo_type:
            return "None: the name alone."
        url = f"{reverse('brand-logo')}?v={branding_current().version}"
        return format_html('<img src="{}" alt="The current logo" height="32">', url)
