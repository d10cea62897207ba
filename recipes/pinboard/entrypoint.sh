#!/bin/sh
# pinboard's entrypoint (config entrypoint, version ENTRYPOINT_VERSION in abra.sh).
trap 'exit 0' TERM INT
set -e
mkdir -p /www/api
conf=/etc/pinboard/app.conf
title=$(sed -n 's/^title = //p' "$conf")
printf '<html><body><h1>%s</h1><p>domain: %s</p></body></html>\n' "$title" "$DOMAIN" > /www/index.html
# The database must answer before the app says it is healthy.
if [ "$PINBOARD_DB" = postgres ]; then
  until reply=$(nc "$DB_HOST" 5432 </dev/null 2>/dev/null) && [ -n "$reply" ]; do sleep 1; done
  printf '{"database":"%s"}\n' "$(echo "$reply" | cut -d' ' -f1-2)" > /www/api/db
fi
echo ok > /www/health
grep -v '^admin_password' "$conf" > /www/settings.txt
httpd -f -p 8080 -h /www &
wait
