-- web: a healthy static web app. The reference for a small, green recipe.
return recipe {
  name = "web",
  version = "1.0.0+2.4",
  compose = { "compose.yml" },
  timeouts = { deploy = 120, test = 60 },
  ready = { url = "http://app:8080/", status = 200 },
  tests = {
    { "serves the index", function()
        local r = http.get("http://app:8080/")
        expect.eq(r.status, 200, "status of /")
        expect.contains(r.body, "hello from web", "index body")
      end },
    { "index names the run's domain", function()
        local r = http.get("http://app:8080/")
        expect.contains(r.body, "domain: " .. run.domain, "index body")
      end },
    { "unknown path is a 404", function()
        local r = http.get("http://app:8080/no-such-page")
        expect.eq(r.status, 404, "status of /no-such-page")
      end },
    { "httpd runs inside the container", function()
        local r = exec("app", { "wget", "-q", "-O-", "http://127.0.0.1:8080/" })
        expect.eq(r.code, 0, "exit code of wget inside app")
        expect.contains(r.stdout, "hello from web", "body fetched inside app")
      end },
  },
}
