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
    pull = 300,      -- seconds: pulling the images of the compose files, on every node
  },
  -- Which images are pulled before a deploy (as compose's pull_policy): "missing" (what
  -- the node lacks), "always", or "never" (only what is on the node).
  pull = "missing",
  secret_length = 32,
  weight = 1,        -- scheduler slots a run of this recipe takes (heavy recipes: more)
  -- Known transient failure classes every recipe gets. `match` is an ECMAScript regular
  -- expression searched in the failure's message. A failure in one is retried once.
  transient = {
    -- `docker stack rm` returns before its networks are gone; a deploy right after can
    -- race with their removal.
    { name = "network-removal-race", phase = "deploy", match = "network [^ ]+ not found" },
    -- A registry that timed out, answered 5xx or limited the rate (429): a slow or busy
    -- registry, not the recipe (the field's runbook: "image pull > 90 s").
    { name = "image-pull", phase = "prepare", match = "image pull of [^ ]+ from [^ ]+ (timed out|failed transiently)" },
  },
  tests = {},
}
