"""The customer pages: views, forms, the template context."""
