-- pinboard: the recipe's own files decide the deploy (COMPOSE_FILE, abra.sh, secrets in
-- compose and .env.sample, the timeout label); this script only adds tests.
return recipe {
  tests = {
    { "serves its title from the templated config", function()
        local r = http.get("http://app:8080/")
        expect.eq(r.status, 200, "status of /")
        expect.contains(r.body, "<h1>Neighbourhood pinboard</h1>", "index body")
        expect.contains(r.body, "domain: " .. run.domain, "index body")
      end },
    { "the database overlay is on and answers", function()
        local r = http.get("http://app:8080/api/db")
        expect.eq(r.status, 200, "status of /api/db")
        expect.contains(r.body, '"database":"PGSTUB 16"', "/api/db body")
        local s = http.get("http://app:8080/settings.txt")
        expect.contains(s.body, "database_host = db:5432", "settings rendered with PINBOARD_DB=postgres")
      end },
    { "the template read the generated admin password", function()
        local r = exec("app", { "sed", "-n", "s/^admin_password = //p", "/etc/pinboard/app.conf" })
        expect.eq(r.code, 0, "exit code of reading app.conf")
        expect.ok(r.stdout:gsub("%s+$", "") == secret("admin_password"),
                  "app.conf's admin_password is the generated secret")
        expect.eq(#secret("admin_password"), 24, "length from the .env.sample hint")
        expect.ok(secret("admin_password"):match("^[0-9a-f]+$") ~= nil, "hex from the .env.sample hint")
      end },
    { "the database password is the generated one, 48 long", function()
        local r = exec("db", { "cat", "/run/secrets/db_password" })
        expect.eq(r.code, 0, "exit code of cat in db")
        expect.ok(r.stdout == secret("db_password"), "db's secret is the generated db_password")
        expect.eq(#secret("db_password"), 48, "length from the .env.sample hint")
      end },
    { "the mail overlay is off", function()
        local r = exec("app", { "sh", "-c", "test -z \"$SMTP_HOST\" && test ! -e /run/secrets/smtp_password" })
        expect.eq(r.code, 0, "no SMTP settings in app")
      end },
  },
}
