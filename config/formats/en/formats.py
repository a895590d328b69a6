"""English dates as the shop has always printed them (ISO, 24-hour); every other format is Django's own for English.

Spanish uses Django's formats unchanged (``d/m/Y H:i``, decimal comma). https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/#creating-custom-format-files
"""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
MONTH_DAY_FORMAT = "j F"
TIME_FORMAT = "H:i"
