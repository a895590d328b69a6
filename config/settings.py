"""Django settings: one complete module, every deploy-specific value from the environment.

Values come from environment variables or an optional ``.env`` file beside
``manage.py``. The defaults need nothing but Python: SQLite for the database
and a SQLite file as the Celery broker. ``SHOP_ENV=production`` switches on the
production checks and security defaults.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SHOP_ENV = env.str("SHOP_ENV", default="development")
if SHOP_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("SHOP_ENV must be development, test or production.")
PRODUCTION = SHOP_ENV == "production"

# Only good for a laptop: production refuses to start with it.
DEFAULT_SECRET_KEY = "django-insecure-dev-only-0c7f5a1e9b2d4e6f8a0b1c2d3e4f5a6b"  # noqa: S105 - public on purpose, refused in production
SECRET_KEY = env.str("SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=SHOP_ENV == "development")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: production refuses the built-in development key.")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("Set DEBUG=False: production refuses to run with DEBUG on.")

INSTALLED_APPS = [
    # The admin's theme; before django.contrib.admin so that its templates win. https://unfoldadmin.com/docs/installation/quickstart/
    "unfold",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    "csp",
    # Accounts: sign-up with email verification, login, password reset and change, two-factor (TOTP, recovery codes).
    # https://docs.allauth.org/en/latest/installation/quickstart.html
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "shop",
]

MIDDLEWARE = [
    # First, so its time covers the others: requests per view, method and status (README, "Observability").
    "shop.observability.middleware.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The customer's language: the switcher's cookie, else the browser's Accept-Language (English by default).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in customer's saved language on a browser that has none yet (shop/accounts/languages.py).
    "shop.accounts.languages.SavedLanguage",
    "shop.core.middleware.NoStoreWhenSignedIn",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff reach the admin only with two-factor authentication (shop/accounts/mfa.py).
    "shop.accounts.mfa.StaffNeedTwoFactor",
    "csp.middleware.CSPMiddleware",
    "shop.core.middleware.AdminContentSecurityPolicy",
    # Last, as django-axes asks: it turns a locked-out login into its own response.
    "axes.middleware.AxesMiddleware",
]

# The reseller API's own chain (config/wsgi.py): its calls carry no session, cookie, language or
# form, so they skip the middleware that serves pages; these three keep the metrics and the headers.
# The rest cost 0.2 to 0.4 ms of every call (issue 16, bench/api_throughput.py).
API_MIDDLEWARE = [
    "shop.observability.middleware.RequestMetrics",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
#: The paths config/wsgi.py sends through API_MIDDLEWARE (the URL patterns of shop.reseller_api.views.api_v2).
API_PATHS = frozenset({"/api/v2", "/api/v2/"})

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "shop.storefront.context_processors.shop",
            ],
            # Tag libraries outside an installed app's templatetags package: {% load shop_format %}.
            "libraries": {"shop_format": "shop.storefront.templatetags.shop_format"},
        },
    },
]

# Database ---------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share one SQLite file: WAL lets readers
    # run beside a writer, IMMEDIATE takes the write lock up front so two writers
    # queue instead of failing, and the timeout is how long they queue.
    # https://docs.djangoproject.com/en/5.2/ref/databases/#sqlite-notes
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that needs no round trip: config/postgresql/base.py.
        DATABASES["default"]["ENGINE"] = "config.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis, cache and Celery ------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # Timeouts, like the broker's: a Redis that hangs must not hang the requests and tasks that use the cache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Production needs what every web worker, the worker and beat share: the cache
# counts login lockouts and rate limits, the broker carries the tasks. The
# laptop defaults (a per-process memory cache, a SQLite file as the broker)
# would let each of N workers allow the whole limit (issue 17).
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured(
        "Set REDIS_URL: production needs a shared cache for rate limits and login lockouts, and a real Celery broker."
    )

# Rate limits (API, sign-ups, password reset mails) count in Redis when there is one (shop.core.limits).
RATE_LIMIT_REDIS_URL = env.str("RATE_LIMIT_REDIS_URL", default=REDIS_URL)

# kombu's SQLAlchemy transport keeps the queue in a SQLite file, so the default
# set-up needs no broker server; Redis takes over when REDIS_URL is set.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
if PRODUCTION and CELERY_BROKER_URL.split("://", 1)[0] not in {"redis", "rediss", "amqp", "amqps", "pyamqp"}:
    raise ImproperlyConfigured(
        "Set CELERY_BROKER_URL to a Redis or RabbitMQ broker: production refuses a broker other processes cannot share."
    )
CELERY_TIMEZONE = "UTC"
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge a message only after its task ran, and give it back to the queue
# if the worker process dies, so no task is lost; tasks are written to be safe
# when run twice (the order submit task claims its order first).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-reject-on-worker-lost
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process: a long task does not sit on others.
# https://docs.celeryq.dev/en/stable/userguide/optimizing.html#prefetch-limits
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that hangs is stopped; above any upstream timeout so it never cuts one.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-time-limit
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# With Redis, an unacknowledged message is handed out again after this long; it
# must outlast the longest countdown or ETA, or the task would run twice.
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
# Socket timeouts: redis-py waits forever by default, so a broker that stops
# answering without closing the connection (hung, failover, a firewall) would
# hang the web request that queues an order's submission after its commit; with
# them it fails in seconds, is logged, and the sweep queues the order again.
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.redis.html#transport-options
# (Redis only: the SQLAlchemy transport passes its options to create_engine.)
CELERY_BROKER_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=5.0)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    }
    if CELERY_BROKER_URL.startswith("redis")
    else {}
)
# Separate queues (issue 16), so a backlog of one kind never delays another: submissions
# (and customers' refills and cancels), the status refresh, the catalogue (sync, balances,
# price updates), mail; the rest (payment checks, housekeeping) on Celery's default queue.
# A worker started without -Q consumes all of them (`make run`); production gives each its
# own workers (README, "Running in production"), e.g. `celery -A config worker -Q submit`.
# https://docs.celeryq.dev/en/stable/userguide/routing.html
CELERY_QUEUES = ("submit", "refresh", "catalogue", "mail", "celery")
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in CELERY_QUEUES)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "shop.tasks.order_submit_task": {"queue": "submit"},
    "shop.tasks.orders_sweep_task": {"queue": "submit"},
    "shop.tasks.refills_send_task": {"queue": "submit"},
    "shop.tasks.orders_cancel_send_task": {"queue": "submit"},
    "shop.tasks.orders_refresh_all": {"queue": "refresh"},
    "shop.tasks.orders_refresh_provider": {"queue": "refresh"},
    "shop.tasks.requests_sweep_provider": {"queue": "refresh"},
    "shop.tasks.catalogue_sync_all": {"queue": "catalogue"},
    "shop.tasks.catalogue_sync_provider": {"queue": "catalogue"},
    "shop.tasks.provider_balance_refresh_all": {"queue": "catalogue"},
    "shop.tasks.service_updates_record_task": {"queue": "catalogue"},
    "shop.notifications.tasks.notification_send_task": {"queue": "mail"},
}
# A submission that finds all of its provider's "concurrent submissions" (set per provider in
# admin) under way goes back on the queue for this many seconds instead of holding a worker.
PROVIDER_BUSY_RETRY = env.float("PROVIDER_BUSY_RETRY", default=3.0)
# https://django-celery-beat.readthedocs.io/en/latest/
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Upstream panels --------------------------------------------------------------
PANEL_CONNECT_TIMEOUT = env.float("PANEL_CONNECT_TIMEOUT", default=5.0)
PANEL_READ_TIMEOUT = env.float("PANEL_READ_TIMEOUT", default=30.0)
# A reply larger than this is treated as broken, not read into memory.
PANEL_MAX_RESPONSE_BYTES = env.int("PANEL_MAX_RESPONSE_BYTES", default=32 * 1024 * 1024)
# Default intervals, in seconds, of the periodic tasks; admins change them later
# in Django admin (Periodic tasks), where they are stored.
CATALOGUE_SYNC_INTERVAL = env.int("CATALOGUE_SYNC_INTERVAL", default=3600)
BALANCE_POLL_INTERVAL = env.int("BALANCE_POLL_INTERVAL", default=300)
ORDER_POLL_INTERVAL = env.int("ORDER_POLL_INTERVAL", default=60)
ORDER_SWEEP_INTERVAL = env.int("ORDER_SWEEP_INTERVAL", default=60)
# The service updates page picks up admins' price changes (markups, fixed rates, enabling) this often; syncs at once.
SERVICE_UPDATES_INTERVAL = env.int("SERVICE_UPDATES_INTERVAL", default=300)
# An order still "submitting" after this long lost its answer (a worker died
# mid-call): it goes to needs attention. Must exceed connect + read timeout.
ORDER_SUBMIT_TIMEOUT = env.int("ORDER_SUBMIT_TIMEOUT", default=600)
# An awaiting order older than this is queued again by the sweeper (its first
# enqueue, after commit, may have been lost).
ORDER_REQUEUE_AFTER = env.int("ORDER_REQUEUE_AFTER", default=60)
# A customer may ask for a refill of one order once in this many seconds (the
# usual panel rule is a day); a refill the provider rejected does not count.
REFILL_COOLDOWN = env.int("REFILL_COOLDOWN", default=24 * 3600)
# How often, at most, each provider is asked about the refills still under way
# (with its periodic order refresh); refill_status answers from the database.
REFILL_POLL_INTERVAL = env.int("REFILL_POLL_INTERVAL", default=300)
# A refill still under way this long after it was asked for is closed as Error, so
# a provider that never answers cannot block the order's refills for good.
REFILL_GIVE_UP_AFTER = env.int("REFILL_GIVE_UP_AFTER", default=3 * 24 * 3600)
# A top-up its gateway still calls pending this many seconds after it was started is shown as
# expired (a verified payment that arrives later still credits it). Gateways' invoices live about an hour.
TOPUP_LIFETIME = env.int("TOPUP_LIFETIME", default=3600)
# How often the periodic task asks gateways, server to server, about top-ups still pending
# (a missed or lost notification is found this way).
TOPUP_CHECK_INTERVAL = env.int("TOPUP_CHECK_INTERVAL", default=60)
# How often the dashboard's rollup folds the order changes the database appended (shop.backoffice.models).
FIGURES_FOLD_INTERVAL = env.int("FIGURES_FOLD_INTERVAL", default=60)
# Top-ups a customer may have waiting (pending or being checked) at once, started within TOPUP_LIFETIME: each one
# costs a call to a gateway and a place in the periodic check.
TOPUP_OPEN_LIMIT = env.int("TOPUP_OPEN_LIMIT", default=5)
UPSTREAM_CALL_PRUNE_INTERVAL = env.int("UPSTREAM_CALL_PRUNE_INTERVAL", default=24 * 3600)
UPSTREAM_CALL_RETENTION_DAYS = env.int("UPSTREAM_CALL_RETENTION_DAYS", default=30)

# Fernet keys that encrypt provider API keys at rest; the first encrypts, all
# decrypt, so a key can be rotated. By default one is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# The sandbox provider that the default set-up resells from.
SANDBOX_HOST = env.str("SANDBOX_HOST", default="127.0.0.1")
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8001)
SANDBOX_API_KEY = env.str("SANDBOX_API_KEY", default="sandbox-demo-key")
SANDBOX_STAGE_SECONDS = env.float("SANDBOX_STAGE_SECONDS", default=10.0)
SANDBOX_SEED = env.int("SANDBOX_SEED", default=1)

# The sandbox payment gateway (shop/payments/sandbox) that `make run` starts: test payments
# with no money, refused in production. Demo secrets, like SANDBOX_API_KEY; runshop passes
# them to the gateway by environment and demo_setup writes them into the "sandbox" method.
PAY_SANDBOX_HOST = env.str("PAY_SANDBOX_HOST", default="127.0.0.1")
PAY_SANDBOX_PORT = env.int("PAY_SANDBOX_PORT", default=8002)
PAY_SANDBOX_MERCHANT = env.str("PAY_SANDBOX_MERCHANT", default="sandbox-shop")
PAY_SANDBOX_API_KEY = env.str("PAY_SANDBOX_API_KEY", default="sandbox-pay-demo-key")
PAY_SANDBOX_WEBHOOK_SECRET = env.str("PAY_SANDBOX_WEBHOOK_SECRET", default="sandbox-pay-demo-webhook-secret")

SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="USD")
# The reseller API's limits: calls and orders per key per minute, invalid keys per address per 10 minutes.
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=600)
API_ADD_RATE_LIMIT = env.int("API_ADD_RATE_LIMIT", default=120)
# Order and refill ids per key per minute: a call with orders=1,2,...,100 counts 100.
API_IDS_RATE_LIMIT = env.int("API_IDS_RATE_LIMIT", default=10_000)
API_BAD_KEY_LIMIT = env.int("API_BAD_KEY_LIMIT", default=20)
# Sign-ups and password reset mails per hour, per client address and per email address (shop/accounts/throttles.py).
SIGNUP_ADDRESS_LIMIT = env.int("SIGNUP_ADDRESS_LIMIT", default=5)
SIGNUP_EMAIL_LIMIT = env.int("SIGNUP_EMAIL_LIMIT", default=3)
PASSWORD_RESET_ADDRESS_LIMIT = env.int("PASSWORD_RESET_ADDRESS_LIMIT", default=10)
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
# How often the orders page asks for fresh statuses while an order can still change.
LIVE_REFRESH_SECONDS = env.int("LIVE_REFRESH_SECONDS", default=10)

# Observability (README, "Observability") --------------------------------------
# The bearer token Prometheus sends to /metrics (Authorization: Bearer ...); it also shows /health/'s details.
# Unset: /metrics answers 404 in production, and to anyone outside production (a laptop's server on loopback).
# https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config (authorization)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The window the provider call metrics cover (calls per outcome, latency quantiles), up to the scrape.
METRICS_UPSTREAM_WINDOW = env.int("METRICS_UPSTREAM_WINDOW", default=15 * 60)
# Finished orders and closed top-ups are counted over the whole table at most this often (kept in the cache meanwhile);
# unfinished ones at every scrape, from partial indexes.
METRICS_TOTALS_TTL = env.int("METRICS_TOTALS_TTL", default=5 * 60)
# An active provider is healthy while its newest successful call is at most this old; one never called yet is healthy.
PROVIDER_HEALTHY_WITHIN = env.int("PROVIDER_HEALTHY_WITHIN", default=15 * 60)
# Log lines: JSON (one object per line, python-json-logger) in production, plain text elsewhere.
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")

# Admin theme (django-unfold) -------------------------------------------------
# https://unfoldadmin.com/docs/configuration/settings/ ; the callables named here are in shop/backoffice/site.py.
UNFOLD = {
    "SITE_TITLE": "shop.backoffice.site.site_title",
    "SITE_HEADER": "shop.backoffice.site.site_title",
    "SITE_SUBHEADER": "Back office",
    "SITE_SYMBOL": "storefront",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": True,
    "STYLES": ["shop.backoffice.site.stylesheet"],
    # The storefront's accent (#3a5bd9 is 600) in the lightness steps of unfold's palette; white on 600 is 5.7:1.
    "COLORS": {
        "primary": {
            "50": "oklch(97.0% 0.014 267.7)",
            "100": "oklch(93.2% 0.032 267.7)",
            "200": "oklch(88.2% 0.054 267.7)",
            "300": "oklch(80.9% 0.093 267.7)",
            "400": "oklch(70.7% 0.143 267.7)",
            "500": "oklch(62.3% 0.180 267.7)",
            "600": "oklch(52.3% 0.196 267.7)",
            "700": "oklch(48.8% 0.190 267.7)",
            "800": "oklch(42.4% 0.160 267.7)",
            "900": "oklch(37.9% 0.130 267.7)",
            "950": "oklch(28.2% 0.090 267.7)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        # Every model the staff member may see, below the shop's groups: nothing is out of reach.
        "show_all_applications": True,
        "navigation": "shop.backoffice.site.sidebar",
    },
}

# Auth, i18n, static -----------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes counts failed logins and refuses a locked-out client before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, taking a username or an email address.
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "order-new"
LOGOUT_REDIRECT_URL = "home"
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Failed logins from one address over all usernames within the cool-off that lock the address out
# (shop/accounts/lockout.py; 0: no such limit). Higher than AXES_FAILURE_LIMIT: many customers may share an address.
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=30)
AXES_HANDLER = "shop.accounts.lockout.LoginLockoutHandler"
# allauth's login form names the username (or email address) "login"; the credentials it authenticates with
# say "username" or "email": shop/accounts/lockout.py reads either.
AXES_USERNAME_FORM_FIELD = "login"
AXES_USERNAME_CALLABLE = "shop.accounts.lockout.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address is REMOTE_ADDR: a client-sent X-Forwarded-For must not pick
# its own address (and so reset its lockout). Behind trusted proxies, set
# TRUSTED_PROXY_COUNT to the number of proxies that append to X-Forwarded-For
# (shop/client_address.py; AXES_PROXY_COUNT is its former name). Axes' own
# AXES_IPWARE_* settings would need django-ipware, which is not installed.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=env.int("AXES_PROXY_COUNT", default=0))
AXES_CLIENT_IP_CALLABLE = "shop.core.client_address.client_address"
# django-allauth: https://docs.allauth.org/en/latest/account/configuration.html
ACCOUNT_ADAPTER = "shop.accounts.adapter.ShopAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
# A customer confirms their address by the mailed link before they can log in (and so before any top-up).
# With enumeration prevention, a sign-up with a registered address gets the same page, and the address's
# owner a mail saying someone tried; which is only possible while verification is mandatory.
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
# A reset asked for an address no account uses mails nobody (it would mail strangers on anyone's say-so).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_SESSION_REMEMBER = None
# Failed logins are django-axes' (per username and address, and per address: shop/accounts/lockout.py); sign-ups
# and reset mails are limited per network and per address by shop/accounts/throttles.py. allauth's "login_failed"
# stays per key only, above axes' limit: it is what limits guesses at a second-factor code (10 per 5 minutes per
# account), where axes sees nothing. allauth's other limits stay.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/300s/key", "signup": None, "reset_password": None}
# Mail the owner when the password, an address or a second factor changes: a stranger who set up an authenticator
# with a stolen password is noticed.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_MAX_EMAIL_ADDRESSES = 2
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="SMM shop")
# Staff reach the admin only after a second factor in this session (shop/accounts/mfa.py).
STAFF_MFA_REQUIRED = env.bool("STAFF_MFA_REQUIRED", default=True)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="shop@localhost")
# Where customers reach the shop: links in mails sent by workers, which have no request to read it from.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Seconds a mail server may take to answer before a notification task gives up and retries later.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Languages of the customer's pages and mails (issue 15): English, and Spanish, which many panel customers read.
# Customer-facing text is marked for translation; the catalogues are locale/<code>/LC_MESSAGES (README, Languages).
# The admin and the reseller API stay in English (the API's texts are a contract resellers parse).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers as each language writes them; ours only fix the short formats (config/formats/<code>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `manage.py collectstatic` puts the files production serves (WhiteNoise, hashed names).
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production, WhiteNoise serves straight from the static folders (no collectstatic).
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Security: strict by default in production, each switchable by environment.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
LANGUAGE_COOKIE_SECURE = env.bool("LANGUAGE_COOKIE_SECURE", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): only the shop's own scripts, styles, images and fonts; no inline script, no
# inline style, no eval, no frames. The admin's theme (django-unfold: Alpine.js) needs more, on /admin/ only
# (shop.core.middleware.AdminContentSecurityPolicy). Forms may post anywhere: a top-up's form redirects to the gateway.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "shop.core.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # One JSON object per line, its text fields redacted like the records (shop/core/logging.py).
        # https://nhairs.github.io/python-json-logger/latest/quickstart/
        "json": {
            "()": "shop.core.logging.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # urllib3 logs request lines at DEBUG; keep it quiet even when LOG_LEVEL=DEBUG.
        "urllib3": {"level": "WARNING"},
        # The stripe library logs each error's message at INFO and raw replies at DEBUG: a reply may echo part of a key.
        "stripe": {"level": "WARNING", "filters": ["redact_secrets"]},
        # One line per login otherwise; lockouts still log at WARNING.
        "axes": {"level": "WARNING"},
        # A traceback per failing check at every probe otherwise; /health/'s details say what failed (unexpected errors still log).
        "health_check": {"level": "ERROR"},
        # On the logger, not only the handler: every handler (error mails, caplog, a tracker) gets the redacted record.
        "django.request": {"filters": ["redact_secrets"]},
    },
}
