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
    settle = 3,      -- seconds a task without a healthcheck must stay up to count as converged
  },
  secret_length = 32,
  weight = 1,        -- scheduler slots a run of this recipe takes (heavy recipes: more)
  -- Known transient failure classes every recipe gets. `match` is an ECMAScript regular
  -- expression searched in the failure's message. A failure in one is retried once.
  transient = {
    -- `docker stack rm` returns before its networks are gone; a deploy right after can
    -- race with their removal.
    { name = "network-removal-race", phase = "deploy", match = "network [^ ]+ not found" },
  },
  tests = {},
}
