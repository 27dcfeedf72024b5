"""One absolute time format in the console: 2026-11-28 14:03:07 UTC (the time zone always
shown), as the hover of every relative time ("5 min ago") reads."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
