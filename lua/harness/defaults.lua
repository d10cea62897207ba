-- Defaults for every recipe script. A script sets only what differs.
return {
  version = "0.0.0+local",
  compose = { "compose.yml" },
  env = {},
  secrets = {},
  timeouts = {
    deploy = 120,    -- seconds: deploy, converge and the readiness probe together
    test = 60,       -- seconds, for each test
    teardown = 180,  -- seconds: stack removal until every object is verified gone
  },
  secret_length = 32,
  tests = {},
}
