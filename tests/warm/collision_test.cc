// Warm-canon namespaces and collision judging, on recorded `docker service inspect` and
// `docker network ls` output, compose files staged for real, and policy files.
#include "warm/collision.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <yaml-cpp/yaml.h>

#include "base/temp_dir.h"

namespace harness {
namespace {

// A live Swarm: keycloak's live OIDC stack on the shared "proxy" network (its service
// answers to "app" there), Traefik publishing 80/443, and the warm deploy of "notes".
const char* kServices = R"json([
  {"ID": "k1", "Spec": {"Name": "warm-keycloak_app",
     "Labels": {"com.docker.stack.namespace": "warm-keycloak",
                "traefik.http.routers.kc.rule": "Host(`login.example.org`)"},
     "TaskTemplate": {"Networks": [{"Target": "netproxy0000", "Aliases": ["app"]},
                                   {"Target": "netkcdefault", "Aliases": ["app"]}]}},
   "Endpoint": {"Ports": []}},
  {"ID": "t1", "Spec": {"Name": "traefik_proxy",
     "Labels": {"com.docker.stack.namespace": "traefik"},
     "TaskTemplate": {"Networks": [{"Target": "netproxy0000", "Aliases": ["proxy"]}]}},
   "Endpoint": {"Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 80},
                          {"Protocol": "tcp", "TargetPort": 443, "PublishedPort": 443}]}},
  {"ID": "n1", "Spec": {"Name": "wc-notes-1a2b_app",
     "Labels": {"com.docker.stack.namespace": "wc-notes-1a2b", "harness.namespace": "wc-notes-1a2b"},
     "TaskTemplate": {"Networks": [{"Target": "netproxy0000", "Aliases": ["notes-app"]}]}},
   "Endpoint": {"Ports": [{"PublishedPort": 8088}]}}
])json";
const char* kNetworks =
    "{\"ID\":\"netproxy0000\",\"Name\":\"proxy\",\"Driver\":\"overlay\",\"Scope\":\"swarm\"}\n"
    "{\"ID\":\"netkcdefault\",\"Name\":\"warm-keycloak_default\",\"Driver\":\"overlay\",\"Scope\":\"swarm\"}\n";

Inventory Live() {
  auto inv = ParseInventory(kServices, kNetworks);
  REQUIRE(inv.ok());
  return *inv;
}

// A plan from a compose file staged for real.
WarmPlan Plan(const std::string& recipe, const std::string& ns, const std::string& compose,
              const ReservedPolicy& policy = {}, StageOptions options = {}) {
  TempDir dir("warm-plan");
  std::ofstream(dir.path() + "/compose.yml") << compose;
  TempDir stage("warm-stage");
  std::map<std::string, std::string> env = {{"STACK_NAME", ns}, {"DOMAIN", WarmDomain(ns, policy)}};
  auto staged = StageCompose(dir.path(), {"compose.yml"}, {{"harness.namespace", ns}}, env, ns, stage.path(), options);
  REQUIRE(staged.ok());
  return {recipe, "1.0.0", ns, WarmDomain(ns, policy), staged->objects};
}

const char* kKeycloakCompose = R"yaml(
version: "3.8"
services:
  app:
    image: keycloak
    networks: [proxy, internal]
    deploy:
      labels:
        - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)"
networks:
  proxy:
    external: true
  internal: {}
)yaml";

TEST_CASE("warm namespaces are deterministic, short and unlike a person's names", "[warm]") {
  CHECK(WarmNamespace("keycloak", "wc") == WarmNamespace("keycloak", "wc"));
  CHECK(WarmNamespace("keycloak", "wc") != WarmNamespace("keycloak2", "wc"));
  CHECK(WarmNamespace("keycloak", "wc").rfind("wc-keycloak-", 0) == 0);
  CHECK(WarmNamespace("keycloak", "wc").size() == std::string("wc-keycloak-").size() + 4);
  // Long names are cut to twelve characters, never ending in '-'.
  std::string long_ns = WarmNamespace("mattermost-lts-extra", "wc");
  CHECK(long_ns.rfind("wc-mattermost-l", 0) == 0);
  CHECK(long_ns.size() <= 20);
  CHECK(WarmNamespace("abcdefghijk-x", "wc").find("--") == std::string::npos);
}

TEST_CASE("recorded docker output becomes an inventory", "[warm]") {
  Inventory inv = Live();
  REQUIRE(inv.services.size() == 3);
  CHECK(inv.stacks == std::vector<std::string>{"traefik", "warm-keycloak", "wc-notes-1a2b"});
  const LiveService& kc = inv.services[0];
  CHECK(kc.aliases.at("proxy") == std::vector<std::string>{"warm-keycloak_app", "app"});
  CHECK(kc.domains == std::vector<std::string>{"login.example.org"});
  CHECK(inv.services[1].published_ports == std::vector<int>{80, 443});
  CHECK_FALSE(ParseInventory("{not json", "").ok());
  CHECK(ParseInventory("", "")->services.empty());
}

TEST_CASE("the naive warm name collides with the live stack; the warm-canon one does not", "[warm]") {
  // warm-<recipe> is what the field team used, and keycloak's live OIDC service has it.
  WarmPlan naive = Plan("keycloak", "warm-keycloak", kKeycloakCompose);
  auto c = FindCollisions(naive, Live(), {});
  REQUIRE_FALSE(c.empty());
  CHECK(c[0].kind == "stack");
  CHECK_THAT(c[0].with, Catch::Contains("warm-keycloak_app"));

  // The warm-canon namespace is clear of the stack, but its service would still answer to
  // "app" on the shared proxy network, as keycloak's live service does.
  WarmPlan warm = Plan("keycloak", WarmNamespace("keycloak", "wc"), kKeycloakCompose);
  c = FindCollisions(warm, Live(), {});
  REQUIRE(c.size() == 1);
  CHECK(c[0].kind == "alias");
  CHECK_THAT(c[0].message(), Catch::Contains("name 'app' of service app on shared network proxy"));
  CHECK_THAT(c[0].message(), Catch::Contains("live service warm-keycloak_app answers to 'app'"));
  Status s = CollisionStatus(warm, c);
  CHECK(s.code() == Status::Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("nothing was created"));
}

TEST_CASE("a recipe that names its service uniquely on the shared network is clear", "[warm]") {
  std::string compose = kKeycloakCompose;
  compose.replace(compose.find("networks: [proxy, internal]"), 27,
                  "networks:\n      proxy:\n        aliases: [\"${STACK_NAME}-app\"]\n      internal: {}");
  // Still answers to "app" on proxy: the short service name is always an alias.
  auto c = FindCollisions(Plan("keycloak", WarmNamespace("keycloak", "wc"), compose), Live(), {});
  REQUIRE(c.size() == 1);
  CHECK(c[0].kind == "alias");
  // A distinct service name is clear.
  std::string renamed = compose;
  renamed.replace(renamed.find("  app:"), 6, "  idp:");
  CHECK(FindCollisions(Plan("keycloak", WarmNamespace("keycloak", "wc"), renamed), Live(), {}).empty());
}

TEST_CASE("unique shared names keep a warm deploy's services apart on shared networks", "[warm]") {
  std::string ns = WarmNamespace("keycloak", "wc");
  const char* compose = R"yaml(
services:
  app:
    image: keycloak
    networks: [proxy, internal]
  db:
    image: postgres
    networks: [internal]
networks:
  proxy: {external: true}
  internal: {}
)yaml";
  WarmPlan plan = Plan("keycloak", ns, compose, {}, StageOptions{true});
  // On proxy it answers to its unique name only: no collision with the live "app".
  CHECK(plan.objects.renamed == std::map<std::string, std::string>{{"app", ns + "-app"}});
  CHECK(SwarmServiceName(ns, plan.objects, "app") == ns + "_" + ns + "-app");
  CHECK(SwarmServiceName(ns, plan.objects, "db") == ns + "_db");
  CHECK(plan.objects.services == std::vector<std::string>{"app", "db"});  // hooks still say "app"
  CHECK(FindCollisions(plan, Live(), {}).empty());

  // The staged file: renamed on the shared network, "app" again inside the stack.
  TempDir dir("warm-rename");
  std::ofstream(dir.path() + "/compose.yml") << compose;
  TempDir stage("warm-rename-stage");
  auto staged = StageCompose(dir.path(), {"compose.yml"}, {}, {}, ns, stage.path(), StageOptions{true});
  REQUIRE(staged.ok());
  YAML::Node doc = YAML::LoadFile(staged->files[0]);
  CHECK_FALSE(doc["services"]["app"]);
  YAML::Node app = doc["services"][ns + "-app"];
  REQUIRE(app);
  CHECK(app["networks"]["internal"]["aliases"][0].as<std::string>() == "app");
  CHECK_FALSE(app["networks"]["proxy"]["aliases"]);
  CHECK(doc["services"]["db"]);
}

TEST_CASE("ports, domains and missing shared networks", "[warm]") {
  const char* compose = R"yaml(
services:
  web:
    image: x
    ports: ["80:8080", "127.0.0.1:9443:443/tcp", {published: 8088, target: 80}, "3000"]
    networks: [edge]
    deploy:
      labels: {"traefik.http.routers.x.rule": "Host(`login.example.org`) || Host(`${DOMAIN}`)"}
networks:
  edge: {external: true, name: "no-such-net"}
)yaml";
  WarmPlan plan = Plan("web", "wc-web-0001", compose);
  REQUIRE(plan.objects.footprints.size() == 1);
  CHECK(plan.objects.footprints[0].published_ports == std::vector<int>{80, 9443, 8088});
  CHECK(plan.objects.footprints[0].domains ==
        std::vector<std::string>{"login.example.org", "wc-web-0001.warm.harness.localhost"});
  auto c = FindCollisions(plan, Live(), {});
  std::vector<std::string> kinds;
  for (const auto& x : c) kinds.push_back(x.kind);
  CHECK(kinds == std::vector<std::string>{"network", "port", "port", "domain"});
  CHECK_THAT(c[1].with, Catch::Contains("traefik_proxy"));
  CHECK_THAT(c[2].with, Catch::Contains("wc-notes-1a2b_app"));  // another warm deploy is live too
  CHECK_THAT(c[3].with, Catch::Contains("warm-keycloak_app"));
}

TEST_CASE("a warm deploy never collides with itself", "[warm]") {
  const char* compose = R"yaml(
services:
  app:
    image: x
    ports: ["8088:80"]
    networks:
      proxy: {aliases: ["notes-app"]}
networks:
  proxy: {external: true}
)yaml";
  WarmPlan plan = Plan("notes", "wc-notes-1a2b", compose);
  // "app" on proxy: keycloak's live service answers to it; the rest is the deploy's own.
  auto c = FindCollisions(plan, Live(), {});
  REQUIRE(c.size() == 1);
  CHECK(c[0].kind == "alias");
  CHECK_THAT(c[0].what, Catch::Contains("'app'"));
}

TEST_CASE("the reserved-names policy", "[warm]") {
  TempDir dir("warm-policy");
  std::string path = dir.path() + "/reserved.yaml";
  std::ofstream(path) << "# live shared services\nnamespace_prefix: hw\ndomain_suffix: canon.example.net\n"
                         "stacks: [\"hw-keycloak-*\"]\nservices: [\"*_db\"]\naliases: [\"auth\"]\n"
                         "domains: [\"*.canon.example.net\"]\nports: [8443]\n";
  auto policy = LoadReservedPolicy(path);
  REQUIRE(policy.ok());
  CHECK(policy->namespace_prefix == "hw");
  std::string ns = WarmNamespace("keycloak", policy->namespace_prefix);
  const char* compose = R"yaml(
services:
  app: {image: x, networks: {proxy: {aliases: [auth]}}, ports: ["8443:443"]}
  db: {image: y}
networks:
  proxy: {external: true}
)yaml";
  WarmPlan plan = Plan("keycloak", ns, compose, *policy);
  auto c = FindCollisions(plan, Inventory{{}, {}, {"proxy"}}, *policy);
  std::vector<std::string> what;
  for (const auto& x : c) {
    CHECK(x.kind == "reserved");
    what.push_back(x.what);
  }
  CHECK(what == std::vector<std::string>{"namespace " + ns, "service " + ns + "_db",
                                         "domain " + ns + ".canon.example.net",
                                         "name 'auth' of service app on shared network proxy",
                                         "published port 8443 of service app"});

  SECTION("a missing file is the empty policy") {
    auto none = LoadReservedPolicy(dir.path() + "/none.yaml");
    REQUIRE(none.ok());
    CHECK(none->stacks.empty());
    CHECK(none->namespace_prefix == "wc");
  }
  SECTION("bad policies are refused with file and line") {
    std::ofstream(path) << "stacks: [a]\nport: [80]\n";
    auto bad = LoadReservedPolicy(path);
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.status().message(), Catch::Contains("reserved.yaml:2: unknown key 'port'"));
    std::ofstream(path) << "ports: [99999]\n";
    CHECK_THAT(LoadReservedPolicy(path).status().message(), Catch::Contains("not a port: 99999"));
    std::ofstream(path) << "namespace_prefix: \"a b\"\n";
    CHECK_FALSE(LoadReservedPolicy(path).ok());
    std::ofstream(path) << "stacks: web\n";
    CHECK_THAT(LoadReservedPolicy(path).status().message(), Catch::Contains("must be a list"));
  }
}

TEST_CASE("glob patterns", "[warm]") {
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("warm-*", "warm-keycloak"));
  CHECK_FALSE(GlobMatch("warm-*", "wc-keycloak"));
  CHECK(GlobMatch("*.example.org", "login.example.org"));
  CHECK_FALSE(GlobMatch("*.example.org", "example.org"));
  CHECK(GlobMatch("a*b*c", "axxbyyc"));
  CHECK_FALSE(GlobMatch("a*b*c", "axxbyy"));
  CHECK(GlobMatch("exact", "exact"));
}

}  // namespace
}  // namespace harness
