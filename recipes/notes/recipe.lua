-- notes: a stateful app with a generated secret, a named volume (/data) and a config file.
return recipe {
  name = "notes",
  version = "0.3.0+1.7",
  compose = { "compose.yml" },
  secrets = { db_password = { length = 32 } },
  timeouts = { deploy = 120, test = 60 },
  ready = { url = "http://app:8080/app.conf", status = 200 },
  tests = {
    { "serves the config over HTTP", function()
        local r = http.get("http://app:8080/app.conf")
        expect.eq(r.status, 200, "status of /app.conf")
        expect.contains(r.body, "greeting = notes-config-v1", "app.conf body")
        expect.contains(r.body, "storage = /data", "app.conf body")
      end },
    { "secret file holds the generated password", function()
        -- Compare inside Lua only: the value is never printed, passed to expect.eq or
        -- put on a command line.
        local r = exec("app", { "cat", "/run/secrets/db_password" })
        expect.eq(r.code, 0, "exit code of cat /run/secrets/db_password")
        expect.ok(r.stdout == secret("db_password"),
                  "/run/secrets/db_password equals the generated db_password")
        local n = exec("app", { "sh", "-c", "wc -c < /run/secrets/db_password" })
        expect.eq(n.code, 0, "exit code of wc -c")
        expect.eq(tonumber(n.stdout:match("%d+")), 32, "length of /run/secrets/db_password")
      end },
    { "/data is the named volume and keeps what is written", function()
        local m = exec("app", { "sh", "-c", "grep -E '^[^ ]+ /data ' /proc/mounts" })
        expect.eq(m.code, 0, "/data listed in /proc/mounts (volume mounted)")
        local note = "note from run " .. run.id
        local w = exec("app", { "sh", "-c", 'printf "%s" "$1" > /data/note.txt', "sh", note })
        expect.eq(w.code, 0, "exit code of writing /data/note.txt")
        local r = exec("app", { "cat", "/data/note.txt" })
        expect.eq(r.stdout, note, "/data/note.txt read back with exec")
        local h = http.get("http://app:8080/notes/note.txt")
        expect.eq(h.status, 200, "status of /notes/note.txt")
        expect.eq(h.body, note, "/notes/note.txt served over HTTP")
      end },
  },
}
