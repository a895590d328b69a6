from django.db import migrations

from shop.migrations._triggers import postgres_only

# The customers list searches username, first and last name and email at once (an OR of four ``icontains``):
# PostgreSQL uses trigram indexes for it only if all four have one (username's came with 0021), else it reads
# every customer. IF NOT EXISTS: on a large live table, create them CONCURRENTLY by hand first.
UP = """
CREATE INDEX IF NOT EXISTS user_email_trgm ON auth_user USING gin (UPPER(email::text) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS user_first_name_trgm ON auth_user USING gin (UPPER(first_name::text) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS user_last_name_trgm ON auth_user USING gin (UPPER(last_name::text) gin_trgm_ops);
ANALYZE auth_user;
"""
DOWN = """
DROP INDEX IF EXISTS user_email_trgm;
DROP INDEX IF EXISTS user_first_name_trgm;
DROP INDEX IF EXISTS user_last_name_trgm;
"""


class Migration(migrations.Migration):
    dependencies = [("shop", "0023_provider_concurrency")]

    operations = [postgres_only(UP, DOWN)]
