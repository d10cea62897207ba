#include "runtime/compose.h"

#include <yaml-cpp/yaml.h>

#include "base/temp_dir.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace harness {
namespace {

namespace fs = std::filesystem;

struct TempTree {
  TempDir dir{"compose-test"};
  fs::path root = dir.path();
  TempTree() {
    fs::create_directories(root / "recipe");
    fs::create_directories(root / "stage");
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root / "recipe" / rel) << text;
  }
};

const char* kCompose = R"(version: "3.8"
services:
  app:
    image: recipe-harness/busybox:${TAG:-1}
    deploy:
      labels:
        - "coop-cloud.${STACK_NAME}.version=1.0"
    secrets: [db_password]
    configs:
      - source: app_conf
        target: /etc/app.conf
  worker:
    image: recipe-harness/busybox:1
    labels:
      existing: "yes"
secrets:
  db_password:
    external: true
    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
configs:
  app_conf:
    name: ${STACK_NAME}_app_conf_${APP_CONF_VERSION}
    file: ./app.conf
volumes:
  data:
networks:
  internal:
  proxy:
    external: true
)";

TEST_CASE("staging labels every object and reports derived names", "[compose]") {
  TempTree t;
  t.Write("compose.yml", kCompose);
  t.Write("app.conf", "listen 8080\n");
  std::map<std::string, std::string> labels = {{"harness.run", "r1"}, {"harness.namespace", "web-abc123"}};
  std::map<std::string, std::string> env = {{"STACK_NAME", "web-abc123"},
                                            {"SECRET_DB_PASSWORD_VERSION", "v1"},
                                            {"APP_CONF_VERSION", "v2"}};
  auto staged = StageCompose((t.root / "recipe").string(), {"compose.yml"}, labels, env,
                             "web-abc123", (t.root / "stage").string());
  REQUIRE(staged.ok());
  const auto& o = staged->objects;
  CHECK(o.services == std::vector<std::string>{"app", "worker"});
  CHECK(o.secrets.at("db_password") == "web-abc123_db_password_v1");
  CHECK(o.configs.at("app_conf") == "web-abc123_app_conf_v2");
  CHECK(o.external_secrets == std::vector<std::string>{"db_password"});
  CHECK(o.images == std::vector<std::string>{"recipe-harness/busybox:1"});

  REQUIRE(staged->files.size() == 1);
  YAML::Node doc = YAML::LoadFile(staged->files[0]);
  CHECK(doc["version"].as<std::string>() == "3.8");
  CHECK(doc["version"].Tag() == "!");  // still a quoted string, not the number 3.8
  auto app = doc["services"]["app"];
  CHECK(app["labels"]["harness.run"].as<std::string>() == "r1");
  // A list of labels stays a list, and the key inside each item is interpolated, as
  // docker stack deploy would.
  REQUIRE(app["deploy"]["labels"].IsSequence());
  std::vector<std::string> deploy_labels;
  for (auto l : app["deploy"]["labels"]) deploy_labels.push_back(l.as<std::string>());
  CHECK(std::count(deploy_labels.begin(), deploy_labels.end(), "coop-cloud.web-abc123.version=1.0") == 1);
  CHECK(std::count(deploy_labels.begin(), deploy_labels.end(), "harness.namespace=web-abc123") == 1);
  CHECK(doc["services"]["worker"]["labels"]["existing"].as<std::string>() == "yes");
  CHECK(doc["services"]["worker"]["deploy"]["labels"]["harness.run"].as<std::string>() == "r1");
  CHECK(doc["volumes"]["data"]["labels"]["harness.run"].as<std::string>() == "r1");
  CHECK(doc["networks"]["internal"]["labels"]["harness.run"].as<std::string>() == "r1");
  CHECK_FALSE(doc["networks"]["proxy"]["labels"]);  // external: not ours to label
  CHECK_FALSE(doc["secrets"]["db_password"]["labels"]);
  CHECK(doc["configs"]["app_conf"]["labels"]["harness.run"].as<std::string>() == "r1");
  // The config's file is copied beside the staged compose file and named relative to it.
  CHECK(doc["configs"]["app_conf"]["file"].as<std::string>() == "./configs-app_conf");
  std::ifstream copied(fs::path(staged->files[0]).parent_path() / "configs-app_conf");
  std::string copy((std::istreambuf_iterator<char>(copied)), std::istreambuf_iterator<char>());
  std::ifstream source(t.root / "recipe" / "app.conf");
  CHECK(copy == std::string((std::istreambuf_iterator<char>(source)), std::istreambuf_iterator<char>()));

  // A config whose file is missing is refused by name.
  fs::remove(t.root / "recipe" / "app.conf");
  auto missing = StageCompose((t.root / "recipe").string(), {"compose.yml"}, labels, env, "web-abc123",
                              (t.root / "stage").string());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("configs 'app_conf': cannot read "));

  // The recipe folder itself is untouched.
  std::ifstream orig(t.root / "recipe" / "compose.yml");
  std::string text((std::istreambuf_iterator<char>(orig)), std::istreambuf_iterator<char>());
  CHECK(text == kCompose);
}

TEST_CASE("bad compose files are clear errors", "[compose]") {
  TempTree t;
  t.Write("compose.yml", "services:\n  app: [\n");
  auto r = StageCompose((t.root / "recipe").string(), {"compose.yml"}, {}, {}, "n", (t.root / "stage").string());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("compose.yml:"));
  auto missing = StageCompose((t.root / "recipe").string(), {"nope.yml"}, {}, {}, "n", (t.root / "stage").string());
  CHECK_THAT(missing.status().message(), Catch::Contains("compose file not found"));
}

TEST_CASE("a label key naming a long variable many times is left out, not expanded", "[compose]") {
  TempTree t;
  // 1 GB once expanded; an explicit key ("? key"), as YAML's implicit ones end at 1024
  // characters.
  std::string key;
  for (int i = 0; i < 1000; ++i) key += "${BIG}";
  t.Write("compose.yml", "services:\n  app:\n    image: busybox\n    deploy:\n      labels:\n"
                         "        coop-cloud.${STACK_NAME}.version: 1.0.0+1\n        ? " + key + "\n        : x\n");
  std::map<std::string, std::string> env = {{"STACK_NAME", "n"}, {"BIG", std::string(1 << 20, 'b')}};
  auto r = StageCompose((t.root / "recipe").string(), {"compose.yml"}, {}, env, "n", (t.root / "stage").string());
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->objects.deploy_labels.at("app") == std::map<std::string, std::string>{{"coop-cloud.n.version", "1.0.0+1"}});
}

TEST_CASE("a network that is not a name is an error with unique shared names too", "[compose]") {
  // Found by fuzzing: renaming services on shared networks threw past StageCompose.
  TempTree t;
  t.Write("compose.yml", "services:\n  app:\n    image: busybox\n    networks:\n      - [proxy]\n"
                         "networks:\n  proxy:\n    external: true\n");
  for (bool unique : {false, true}) {
    INFO(unique);
    StageOptions options;
    options.unique_shared_names = unique;
    auto r = StageCompose((t.root / "recipe").string(), {"compose.yml"}, {}, {}, "n", (t.root / "stage").string(),
                          options);
    CHECK(r.status().code() == Status::Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Catch::Contains("compose.yml: "));
  }
}

TEST_CASE("interpolation follows docker stack deploy", "[compose]") {
  std::map<std::string, std::string> env = {{"A", "x"}, {"EMPTY", ""}};
  CHECK(Interpolate("${A}_$A-${B:-d}-${EMPTY:-e}-${EMPTY-f}-$$-${B}", env) == "x_x-d-e--$-");
  CHECK(Interpolate("${A:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${B+alt}", env) == "alt||alt|");
  CHECK(Interpolate("${B:-${A}-${C:-deep}}", env) == "x-deep");
  CHECK(*InterpolateStrictly("${A:?must be set}", env) == "x");
  auto missing = InterpolateStrictly("host-${B:?B must be set}", env);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(missing.status().message(), Catch::Contains("B must be set"));
  CHECK_FALSE(InterpolateStrictly("${EMPTY:?}", env).ok());
  CHECK(*InterpolateStrictly("${EMPTY?}", env) == "");
  CHECK_FALSE(InterpolateStrictly("${A", env).ok());
  CHECK_FALSE(InterpolateStrictly("${A B}", env).ok());
  CHECK(*InterpolateStrictly("cost: $$5", env) == "cost: $5");
}

TEST_CASE("staged files carry interpolated values and nothing for docker to interpolate", "[compose]") {
  TempTree t;
  t.Write("compose.yml", R"Y(version: "3.8"
x-anchor: &env
  LITERAL: "${NOT_OURS}"
services:
  app:
    image: registry.local/app:${APP_VERSION:-1.0}
    environment:
      DOMAIN: ${DOMAIN}
      PRICE: "$$5"
      TRUE_LOOKING: ${YES}
      LEAK: ${HARNESS_TEST_LEAK:-absent}
    deploy:
      labels:
        - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)"
)Y");
  ::setenv("HARNESS_TEST_LEAK", "from-the-harness", 1);
  std::map<std::string, std::string> env = {{"STACK_NAME", "web-1"}, {"DOMAIN", "web.example.org"}, {"YES", "yes"}};
  auto staged = StageCompose((t.root / "recipe").string(), {"compose.yml"}, {}, env, "web-1",
                             (t.root / "stage").string());
  ::unsetenv("HARNESS_TEST_LEAK");
  REQUIRE(staged.ok());
  std::ifstream in(staged->files[0]);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  YAML::Node doc = YAML::Load(text);
  auto app = doc["services"]["app"];
  CHECK(app["image"].as<std::string>() == "registry.local/app:1.0");
  CHECK(app["environment"]["DOMAIN"].as<std::string>() == "web.example.org");
  // "$$" reaches docker doubled again, so that docker's own interpolation gives back "$5".
  CHECK(app["environment"]["PRICE"].as<std::string>() == "$$5");
  // Quoted: docker must not read "yes" as a boolean it would then refuse as an env value.
  CHECK(app["environment"]["TRUE_LOOKING"].Tag() == "!");
  CHECK(app["deploy"]["labels"][0].as<std::string>() == "traefik.http.routers.web-1.rule=Host(`web.example.org`)");
  // Extension fields are the recipe's own; they stay as written.
  CHECK(doc["x-anchor"]["LITERAL"].as<std::string>() == "${NOT_OURS}");
  // Only the checked environment is read: the harness's own environment never is.
  CHECK(app["environment"]["LEAK"].as<std::string>() == "absent");
  CHECK(text.find("from-the-harness") == std::string::npos);
}

TEST_CASE("a value the recipe demands and the environment lacks refuses staging", "[compose]") {
  TempTree t;
  t.Write("compose.yml", "services:\n  app:\n    image: busybox\n    environment:\n"
                         "      DOMAIN: ${DOMAIN:?set DOMAIN in .env}\n");
  auto r = StageCompose((t.root / "recipe").string(), {"compose.yml"}, {}, {}, "n", (t.root / "stage").string());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);
  CHECK_THAT(r.status().message(), Catch::Contains("compose.yml") && Catch::Contains("set DOMAIN in .env") &&
                                       Catch::Contains("services.app.environment.DOMAIN"));
}

TEST_CASE("interpolation is bounded", "[compose]") {
  std::map<std::string, std::string> env = {{"A", "x"}};
  CHECK(InterpolateAtMost("$A$A$A", env, 3) == std::optional<std::string>("xxx"));
  CHECK(InterpolateAtMost("$A$A$A", env, 2) == std::nullopt);
  CHECK(InterpolateAtMost("abc${A", env, 5) == std::nullopt);
}

TEST_CASE("router rules name their domains", "[compose]") {
  using V = std::vector<std::string>;
  CHECK(HostRuleDomains("Host(`a.example`) || HostSNI(`b.example`)") == V{"a.example", "b.example"});
  CHECK(HostRuleDomains("Host(`pin.example`, `www.pin.example`) && PathPrefix(`/`)").empty());
  CHECK(HostRuleDomains("HostRegexp(`{sub:[a-z]+}.example`) || Host(``) || HostHost(`c`)") == V{"c"});
  CHECK(HostRuleDomains("Host(`unclosed) || Host(`d`)") == V{"d"});
  CHECK(HostRuleDomains("no rule").empty());
}

TEST_CASE("an HTTP router's rule names the hosts it routes", "[compose]") {
  using V = std::vector<std::string>;
  CHECK(RouterHosts("Host(`a.example`)") == V{"a.example"});
  // EXTRA_DOMAINS as Co-op Cloud recipes append it: several names in one Host().
  CHECK(RouterHosts("Host(`pin.example`, `www.pin.example`) && PathPrefix(`/`)") == V{"pin.example", "www.pin.example"});
  CHECK(RouterHosts("Host(`a.example`) || Host(`b.example`) || Host(`a.example`)") == V{"a.example", "b.example"});
  // Not HTTP hosts: SNI of TCP routers, patterns, headers.
  CHECK(RouterHosts("HostSNI(`*`) || HostRegexp(`{sub:[a-z]+}.example`) || HostHeader(`c.example`)").empty());
  // Not host names: left out.
  CHECK(RouterHosts("Host(`a b`, `x:1`, ``, `-x`, `ok.example`)") == V{"ok.example"});
  CHECK(RouterHosts("Host(`unclosed").empty());
  CHECK(RouterHosts("no rule").empty());
  std::string huge(1 << 20, 'a');
  CHECK(RouterHosts("Host(`" + huge + "`)").empty());  // longer than a host name
}

TEST_CASE("a huge router label is read without running out of stack", "[compose]") {
  // std::regex recursed once per character and overflowed the stack on some 100 kB.
  std::string domain(1 << 20, 'a');
  CHECK(HostRuleDomains("Host(`" + domain + "`)") == std::vector<std::string>{domain});
  CHECK(HostRuleDomains("Host(`" + domain).empty());
}

TEST_CASE(".env files", "[compose]") {
  auto env = ParseEnvFile("# comment\nTYPE=web\n\nDOMAIN=web.example.com  # trailing\n"
                          "export X=1\nQ=\"quoted # not a comment\"\nbroken line\n");
  CHECK(env.at("TYPE") == "web");
  CHECK(env.at("DOMAIN") == "web.example.com");
  CHECK(env.at("X") == "1");
  CHECK(env.at("Q") == "quoted # not a comment");
  CHECK(env.size() == 4);
}

}  // namespace
}  // namespace harness

namespace harness {
namespace {

TEST_CASE("an overlay in a subfolder is staged flat, its config copied, and its image pinned", "[compose]") {
  TempTree t;
  fs::create_directories(t.root / "recipe" / "overlays");
  t.Write("compose.yml", "version: \"3.8\"\nservices:\n  app:\n    image: ${APP_IMAGE}\n");
  t.Write("overlays/compose.smtp.yml", R"(version: "3.8"
services:
  app:
    configs:
      - source: smtp_conf
        target: /etc/smtp.conf
configs:
  smtp_conf:
    name: ${STACK_NAME}_smtp_conf_v1
    file: overlays/smtp.conf
)");
  t.Write("overlays/smtp.conf", "relay = mail.example.com\n");
  std::map<std::string, std::string> env = {{"STACK_NAME", "ns1"}, {"APP_IMAGE", "127.0.0.1:5000/app:1"}};
  auto staged = StageCompose((t.root / "recipe").string(), {"compose.yml", "overlays/compose.smtp.yml"},
                             {{"harness.namespace", "ns1"}}, env, "ns1", (t.root / "stage").string());
  REQUIRE(staged.ok());
  REQUIRE(staged->files.size() == 2);
  CHECK(fs::path(staged->files[1]).filename() == "1-overlays_compose.smtp.yml");
  CHECK(fs::path(staged->files[1]).parent_path() == fs::path(staged->files[0]).parent_path());
  CHECK(fs::exists(t.root / "stage" / "configs-smtp_conf"));
  CHECK(staged->objects.configs.at("smtp_conf") == "ns1_smtp_conf_v1");
  CHECK(staged->objects.images == std::vector<std::string>{"127.0.0.1:5000/app:1"});

  const std::string pinned = "127.0.0.1:5000/app:1@sha256:" + std::string(64, 'a');
  REQUIRE(PinImages(*staged, env, {{"127.0.0.1:5000/app:1", pinned}}).ok());
  YAML::Node doc = YAML::LoadFile(staged->files[0]);
  CHECK(doc["services"]["app"]["image"].as<std::string>() == pinned);
  // The overlay names no image: left as it was.
  CHECK_FALSE(YAML::LoadFile(staged->files[1])["services"]["app"]["image"]);
}

}  // namespace
}  // namespace harness
