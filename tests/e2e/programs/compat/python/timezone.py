"""Time zones: UTC by default (/etc/localtime), zoneinfo Europe/Paris, TZ + tzset."""
import datetime
import os
import sys
import time
import zoneinfo

times = [int(a) for a in sys.argv[1:]]
print("tzname", time.tzname, "timezone", time.timezone)
paris = zoneinfo.ZoneInfo("Europe/Paris")
for t in times:
    print("local", time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t)))
    print("zoneinfo", datetime.datetime.fromtimestamp(t, paris).strftime("%Y-%m-%d %H:%M:%S %Z %z"))
os.environ["TZ"] = "Europe/Paris"
time.tzset()
for t in times:
    print("tzset", time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(t)))
print("available has Europe/Paris", "Europe/Paris" in zoneinfo.available_timezones())
