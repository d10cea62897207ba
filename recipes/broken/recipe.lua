-- broken: GENUINELY BROKEN at this version, on purpose (the canon's known-red example).
--
-- Upstream release 3.1 (recipe 2.0.0+3.1) renamed the health endpoint /api/health to
-- /api/healthz. The stack deploys and converges (the Docker healthcheck and the readiness
-- probe use "/"), but the test "health endpoint answers" still calls /api/health and gets
-- 404 on every run: a reproducible recipe failure, i.e. verdict `genuine`, not a flake.
-- The evidence shows it: status 404 for /api/health, while /api/healthz answers 200.
return recipe {
  name = "broken",
  version = "2.0.0+3.1",
  compose = { "compose.yml" },
  timeouts = { deploy = 120, test = 60 },
  ready = { url = "http://app:8080/", status = 200 },
  tests = {
    { "serves the index", function()
        local r = http.get("http://app:8080/")
        expect.eq(r.status, 200, "status of /")
        expect.contains(r.body, "status-api", "index body")
      end },
    { "health endpoint answers", function()
        -- Fails: 3.1 renamed /api/health -> /api/healthz (see the header comment).
        local r = http.get("http://app:8080/api/health")
        expect.eq(r.status, 200, "status of /api/health (renamed to /api/healthz upstream in 3.1)")
        expect.contains(r.body, '"status":"ok"', "/api/health body")
      end },
  },
}
