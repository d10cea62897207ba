// The compose policy against recipes shaped like real ones (app + db, Traefik labels, the
// external proxy network, external secrets, golang-template configs, overlays): what an
// untrusted head asks of the Swarm is found, named by file, service and key.
#include "recipe/compose_policy.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

struct Recipe {
  TempDir tmp{"policy-test"};
  fs::path root = fs::path(tmp.path()) / "gitea";
  std::map<std::string, std::string> env = {{"STACK_NAME", "gitea-k3x9a2"},
                                            {"DOMAIN", "gitea-k3x9a2.test.local"},
                                            {"SECRET_DB_PASSWORD_VERSION", "v1"},
                                            {"APP_INI_VERSION", "v2"},
                                            {"HOME", "/root"}};
  Recipe() { fs::create_directories(root); }
  void Write(const std::string& rel, const std::string& text) const {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
  std::vector<PolicyFinding> Check(const std::vector<std::string>& files, const ComposePolicy& policy = {},
                                   const std::string& recipe = "gitea") const {
    auto r = CheckComposePolicy(root.string(), files, env, recipe, policy);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return *r;
  }
};

std::string Dump(const std::vector<PolicyFinding>& findings) {
  std::string out;
  for (const auto& f : findings) out += f.Describe() + "\n";
  return out.empty() ? "(none)" : out;
}

// The rules of the findings, in order.
std::vector<std::string> Rules(const std::vector<PolicyFinding>& findings) {
  std::vector<std::string> out;
  for (const auto& f : findings) out.push_back(f.rule);
  return out;
}

// A realistic clean recipe: named volumes, the proxy network, a config inside the recipe,
// 8080 published, an external secret named after the stack, an anchor of deploy settings.
const char* kCleanCompose = R"YML(version: "3.8"
x-deploy: &deploy
  restart_policy:
    condition: on-failure
    max_attempts: 3
  update_config:
    order: start-first
    failure_action: rollback
services:
  app:
    image: gitea/gitea:1.22.3-rootless
    environment:
      - GITEA__server__DOMAIN=${DOMAIN}
      - GITEA__database__PASSWD__FILE=/run/secrets/db_password
    networks: [proxy, internal]
    volumes:
      - data:/var/lib/gitea
      - type: volume
        source: config
        target: /etc/gitea
      - /tmp/cache
    secrets: [db_password]
    configs:
      - source: app_ini
        target: /etc/gitea/app.ini
    ports:
      - "8080:3000"
      - target: 2222
        published: 2222
        mode: host
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://localhost:3000/api/healthz"]
    deploy:
      <<: *deploy
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)"
        - "traefik.http.routers.${STACK_NAME}.tls.certresolver=${LETS_ENCRYPT_ENV}"
        - "coop-cloud.${STACK_NAME}.version=3.5.3+1.22.3-rootless"
  db:
    image: postgres:16
    networks: [internal]
    volumes: [postgres:/var/lib/postgresql/data]
    secrets: [db_password]
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    privileged: false
    deploy: *deploy
secrets:
  db_password:
    external: true
    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
configs:
  app_ini:
    name: ${STACK_NAME}_app_ini_${APP_INI_VERSION}
    file: app.ini.tmpl
    template_driver: golang
volumes:
  data:
  config:
  postgres:
networks:
  proxy:
    external: true
  internal:
)YML";

const char* kCleanSmtp = R"(version: "3.8"
services:
  app:
    environment:
      - GITEA__mailer__ENABLED=true
    env_file: [smtp.env]
)";

TEST_CASE("a realistic clean recipe has no findings", "[policy]") {
  Recipe r;
  r.Write("compose.yml", kCleanCompose);
  r.Write("overlays/compose.smtp.yml", kCleanSmtp);
  r.Write("app.ini.tmpl", "[server]\nDOMAIN = {{ env \"DOMAIN\" }}\n");
  r.Write("smtp.env", "SMTP_HOST=mail\n");
  auto findings = r.Check({"compose.yml", "overlays/compose.smtp.yml"});
  INFO(Dump(findings));
  CHECK(findings.empty());
  // Docker Hub's official and user images, on a list that names only the Hub.
  ComposePolicy hub_only;
  hub_only.allowed_registries = {"docker.io"};
  CHECK(r.Check({"compose.yml"}, hub_only).empty());
}

TEST_CASE("the three heads of the issue are found by file, service and key", "[policy]") {
  Recipe r;
  r.Write("app.ini.tmpl", "");
  SECTION("the Docker socket bind-mounted") {
    std::string compose = kCleanCompose;
    compose.replace(compose.find("      - data:/var/lib/gitea\n"), 0,
                    "      - /var/run/docker.sock:/var/run/docker.sock\n");
    r.Write("compose.yml", compose);
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0] == PolicyFinding{"compose.yml", "app", "volumes", "/var/run/docker.sock:/var/run/docker.sock",
                                       "docker-socket"});
    CHECK(findings[0].Describe() ==
          "compose.yml: service app: volumes: /var/run/docker.sock:/var/run/docker.sock (docker-socket)");
  }
  SECTION("the host's / bind-mounted by an overlay") {
    r.Write("compose.yml", kCleanCompose);
    r.Write("compose.backup.yml", "version: \"3.8\"\nservices:\n  backup:\n    image: alpine:3\n"
                                  "    volumes:\n      - /:/host:ro\n");
    auto findings = r.Check({"compose.yml", "compose.backup.yml"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0] == PolicyFinding{"compose.backup.yml", "backup", "volumes", "/:/host:ro", "docker-socket"});
  }
  SECTION("privileged: true and cap_add: [SYS_ADMIN]") {
    std::string compose = kCleanCompose;
    compose.replace(compose.find("    privileged: false\n"), 22, "    privileged: true\n    cap_add: [SYS_ADMIN]\n");
    r.Write("compose.yml", compose);
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 2);
    CHECK(findings[0] == PolicyFinding{"compose.yml", "db", "privileged", "true", "privileged"});
    CHECK(findings[1] == PolicyFinding{"compose.yml", "db", "cap_add", "SYS_ADMIN", "cap-add"});
  }
}

// One service asking for `body` (indented under the service), alone in compose.yml.
std::vector<PolicyFinding> CheckService(Recipe& r, const std::string& body, const ComposePolicy& policy = {}) {
  r.Write("compose.yml", "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n" + body);
  return r.Check({"compose.yml"}, policy);
}

TEST_CASE("every spelling of the Docker socket, and its folders, is docker-socket", "[policy]") {
  const char* sources[] = {
      "/var/run/docker.sock", "/run/docker.sock", "//var/run/../run/docker.sock", "/var/./run//docker.sock",
      "/srv/../var/run/docker.sock", "/var/run/", "/var/run", "/run", "/var", "/", "//",
      "/run/user/1000/docker.sock", "/run/user/1000", "/home/ci/.docker/run/docker.sock", "/proc/1/root",
      "${HOME}/../../var/run/docker.sock", "../../../../../../../var/run/docker.sock", "./../..",
      "~/../../run/docker.sock",
  };
  for (const char* source : sources) {
    Recipe r;
    INFO(source);
    auto short_form = CheckService(r, std::string("    volumes:\n      - \"") + source + ":/sock\"\n");
    REQUIRE(short_form.size() == 1);
    CHECK(short_form[0].rule == "docker-socket");
    CHECK(short_form[0].key == "volumes");
    auto long_form =
        CheckService(r, std::string("    volumes:\n      - type: bind\n        source: \"") + source +
                            "\"\n        target: /sock\n");
    REQUIRE(long_form.size() == 1);
    CHECK(long_form[0].rule == "docker-socket");
  }
}

TEST_CASE("host bind mounts in short and long form are host-bind; volumes are not", "[policy]") {
  struct Case {
    const char* volume;
    const char* rule;  // "" for none
  };
  const Case cases[] = {
      {"- /srv/gitea:/data", "host-bind"},
      {"- ./data:/data", "host-bind"},
      {"- ~/data:/data", "host-bind"},
      {"- ${HOME}:/data", "host-bind"},        // /root after interpolation
      {"- ${UNSET_DIR}:/data", "host-bind"},   // empty here; docker would fill it from its own env
      {"- data/sub:/data", "host-bind"},       // no volume's name: a path
      {"- /var/lib/docker:/d", "host-bind"},
      {"- /run/user/1000/app:/d", "host-bind"},
      {"- \"$${HOME}:/data\"", "host-bind"},   // "$$" is a literal "$"
      {"- {type: bind, source: /srv/data, target: /data}", "host-bind"},
      {"- {type: BIND, source: ./x, target: /data}", "host-bind"},
      {"- {source: /srv/data, target: /data}", "host-bind"},  // no type: a path is a bind
      {"- data:/var/lib/gitea", ""},
      {"- data:/var/lib/gitea:ro", ""},
      {"- /var/lib/anonymous", ""},
      {"- {type: volume, source: data, target: /data}", ""},
      {"- {type: tmpfs, target: /tmp}", ""},
  };
  for (const auto& c : cases) {
    Recipe r;
    INFO(c.volume);
    auto findings = CheckService(r, std::string("    volumes:\n      ") + c.volume + "\n");
    if (std::string(c.rule).empty()) {
      CHECK(findings.empty());
    } else {
      REQUIRE(findings.size() == 1);
      CHECK(findings[0].rule == c.rule);
      CHECK(findings[0].service == "app");
    }
  }
  Recipe r;
  auto interpolated = CheckService(r, "    volumes:\n      - ${HOME}:/data\n");
  REQUIRE(interpolated.size() == 1);
  CHECK(interpolated[0].detail == "/root:/data");
}

TEST_CASE("top-level volumes whose driver_opts mount a host path are refused", "[policy]") {
  struct Case {
    const char* opts;
    const char* rule;
  };
  const Case cases[] = {
      {"{type: none, o: bind, device: /srv/gitea}", "host-bind"},
      {"{o: bind, device: /srv/gitea}", "host-bind"},
      {"{type: none, device: relative}", "host-bind"},
      {"{o: \"rbind,ro\", device: /srv/x}", "host-bind"},
      {"{type: ext4, device: /dev/sdb1}", "host-bind"},
      {"{type: none, o: bind, device: /var/run}", "docker-socket"},
      {"{type: nfs, o: \"addr=10.0.0.5,rw\", device: \":/export/gitea\"}", ""},
      {"{type: tmpfs, device: tmpfs, o: size=100m}", ""},
  };
  for (const auto& c : cases) {
    Recipe r;
    INFO(c.opts);
    r.Write("compose.yml", std::string("version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n"
                                       "    volumes: [data:/data]\nvolumes:\n  data:\n    driver: local\n"
                                       "    driver_opts: ") + c.opts + "\n");
    auto findings = r.Check({"compose.yml"});
    if (std::string(c.rule).empty()) {
      CHECK(findings.empty());
    } else {
      REQUIRE(findings.size() == 1);
      CHECK(findings[0].rule == c.rule);
      CHECK(findings[0].service == "");
      CHECK(findings[0].key == "volumes.data.driver_opts");
    }
  }
}

TEST_CASE("every refused service key is found with its value", "[policy]") {
  struct Case {
    const char* body;
    const char* key;
    const char* detail;
    const char* rule;
  };
  const Case cases[] = {
      {"    privileged: true\n", "privileged", "true", "privileged"},
      {"    privileged: \"yes\"\n", "privileged", "yes", "privileged"},
      {"    privileged: ${PRIV:-True}\n", "privileged", "True", "privileged"},
      {"    cap_add: [NET_ADMIN]\n", "cap_add", "NET_ADMIN", "cap-add"},
      {"    devices: [\"/dev/fuse:/dev/fuse\"]\n", "devices", "/dev/fuse:/dev/fuse", "devices"},
      {"    network_mode: host\n", "network_mode", "host", "host-network"},
      {"    pid: host\n", "pid", "host", "host-pid"},
      {"    ipc: host\n", "ipc", "host", "host-ipc"},
      {"    userns_mode: host\n", "userns_mode", "host", "userns"},
      {"    security_opt: [\"seccomp:unconfined\"]\n", "security_opt", "seccomp:unconfined", "unconfined"},
      {"    security_opt: [\"apparmor=unconfined\"]\n", "security_opt", "apparmor=unconfined", "unconfined"},
      {"    security_opt: [\"label:disable\"]\n", "security_opt", "label:disable", "unconfined"},
      {"    security_opt: [\"label=disable\"]\n", "security_opt", "label=disable", "unconfined"},
      {"    sysctls: {net.core.somaxconn: 1024}\n", "sysctls", "net.core.somaxconn=1024", "sysctls"},
      {"    sysctls: [\"net.ipv4.ip_forward=1\"]\n", "sysctls", "net.ipv4.ip_forward=1", "sysctls"},
      {"    ports:\n      - {target: 80, published: 80, mode: host}\n", "ports",
       "{target: 80, published: 80, mode: host}", "low-host-port"},
      {"    ports:\n      - {target: 53, published: \"53-54\", protocol: udp, mode: host}\n", "ports",
       "{target: 53, published: 53-54, protocol: udp, mode: host}", "low-host-port"},
      {"    networks: [hostnet]\nnetworks:\n  hostnet:\n    external: true\n    name: host\n", "networks", "hostnet",
       "host-network"},
  };
  for (const auto& c : cases) {
    Recipe r;
    INFO(c.body);
    auto findings = CheckService(r, c.body);
    REQUIRE(findings.size() == 1);
    CHECK(findings[0] == PolicyFinding{"compose.yml", "app", c.key, c.detail, c.rule});
  }
}

TEST_CASE("what is allowed by default stays allowed", "[policy]") {
  const char* bodies[] = {
      "    privileged: false\n",
      "    privileged: \"no\"\n",
      "    cap_drop: [ALL]\n",
      "    cap_add: []\n",
      "    network_mode: bridge\n",
      "    security_opt: [\"no-new-privileges:true\", \"seccomp=default.json\"]\n",
      "    ports: [\"80:80\", \"443:443/tcp\", \"127.0.0.1:25:25\"]\n",  // short form: ingress
      "    ports:\n      - {target: 80, published: 80}\n      - {target: 443, published: 443, mode: ingress}\n",
      "    ports:\n      - {target: 8443, published: 8443, mode: host}\n",
      "    networks: [proxy]\nnetworks:\n  proxy:\n    external: true\n",
  };
  for (const char* body : bodies) {
    Recipe r;
    INFO(body);
    auto findings = CheckService(r, body);
    INFO(Dump(findings));
    CHECK(findings.empty());
  }
}

TEST_CASE("a low port an overlay turns to host mode is found", "[policy]") {
  Recipe r;
  r.Write("compose.yml", "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n"
                         "    ports:\n      - {target: 80, published: 80}\n");
  r.Write("compose.host.yml", "version: \"3.8\"\nservices:\n  app:\n    ports:\n      - {target: 80, mode: host}\n");
  CHECK(r.Check({"compose.yml"}).empty());
  auto findings = r.Check({"compose.yml", "compose.host.yml"});
  REQUIRE(findings.size() == 1);
  CHECK(findings[0] == PolicyFinding{"compose.yml", "app", "ports",
                                     "{target: 80, published: 80} (host mode in compose.host.yml)", "low-host-port"});
}

TEST_CASE("anchors and merges do not hide what they bring", "[policy]") {
  Recipe r;
  SECTION("a merged mapping") {
    r.Write("compose.yml", "version: \"3.8\"\nx-priv: &priv\n  privileged: true\n  cap_add: [SYS_ADMIN]\n"
                           "services:\n  app:\n    image: nginx:1\n    <<: *priv\n");
    CHECK(Rules(r.Check({"compose.yml"})) == std::vector<std::string>{"privileged", "cap-add"});
  }
  SECTION("a list of merged mappings, and nested merges") {
    r.Write("compose.yml", "version: \"3.8\"\nx-a: &a {pid: host}\nx-b: &b {<<: *a, ipc: host}\n"
                           "services:\n  app:\n    image: nginx:1\n    <<: [*b, {userns_mode: host}]\n");
    CHECK(Rules(r.Check({"compose.yml"})) == std::vector<std::string>{"host-pid", "host-ipc", "userns"});
  }
  SECTION("the mapping's own key wins over a merged one") {
    r.Write("compose.yml", "version: \"3.8\"\nx-priv: &priv {privileged: true}\n"
                           "services:\n  app:\n    image: nginx:1\n    <<: *priv\n    privileged: false\n");
    CHECK(r.Check({"compose.yml"}).empty());
  }
  SECTION("an aliased list of volumes and an aliased service") {
    r.Write("compose.yml", "version: \"3.8\"\nx-vols: &vols [\"/var/run/docker.sock:/s\"]\n"
                           "services:\n  app: &app\n    image: nginx:1\n    volumes: *vols\n  worker: *app\n");
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 2);
    CHECK(findings[0].service == "app");
    CHECK(findings[1].service == "worker");
  }
  SECTION("a merge inside deploy settings of another key") {
    r.Write("compose.yml", "version: \"3.8\"\nx-sec: &sec {security_opt: [\"seccomp:unconfined\"]}\n"
                           "services:\n  app:\n    image: nginx:1\n    <<: *sec\n");
    CHECK(Rules(r.Check({"compose.yml"})) == std::vector<std::string>{"unconfined"});
  }
  SECTION("a quoted \"<<\" is an ordinary key, and x- fields alone ask for nothing") {
    r.Write("compose.yml", "version: \"3.8\"\nx-unused: {privileged: true, volumes: [\"/:/h\"]}\n"
                           "services:\n  app:\n    image: nginx:1\n    \"<<\": {privileged: true}\n");
    CHECK(r.Check({"compose.yml"}).empty());
  }
}

TEST_CASE("files read from this machine must be inside the recipe", "[policy]") {
  Recipe r;
  fs::path outside = fs::path(r.tmp.path()) / "host-secrets";
  std::ofstream(outside) << "root:x:0:0\n";
  outside = fs::canonical(outside);
  const std::string base = "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n";
  SECTION("a config file that is a symbolic link to a file outside") {
    fs::create_symlink(outside, r.root / "app.ini.tmpl");
    r.Write("compose.yml", base + "configs:\n  app_ini:\n    name: ${STACK_NAME}_app_ini_v1\n    file: app.ini.tmpl\n");
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0].key == "configs.app_ini.file");
    CHECK(findings[0].service == "");
    CHECK(findings[0].rule == "path-outside-recipe");
    CHECK(findings[0].detail == "app.ini.tmpl (resolves to " + outside.string() + ")");
  }
  SECTION("a folder link inside the recipe leading out") {
    fs::create_symlink(r.tmp.path(), r.root / "shared");
    r.Write("compose.yml", base + "secrets:\n  key:\n    name: ${STACK_NAME}_key_v1\n    file: shared/host-secrets\n");
    CHECK(Rules(r.Check({"compose.yml"})) == std::vector<std::string>{"path-outside-recipe"});
  }
  SECTION("a dangling link pointing outside") {
    fs::create_symlink("/etc/nonexistent-harness-file", r.root / "later.env");
    r.Write("compose.yml", base + "    env_file: later.env\n");
    CHECK(Rules(r.Check({"compose.yml"})) == std::vector<std::string>{"path-outside-recipe"});
  }
  SECTION("a link that stays inside is fine") {
    r.Write("configs/app.ini", "x");
    fs::create_symlink("configs/app.ini", r.root / "app.ini.tmpl");
    r.Write("compose.yml", base + "configs:\n  app_ini:\n    name: ${STACK_NAME}_app_ini_v1\n    file: ./app.ini.tmpl\n");
    CHECK(r.Check({"compose.yml"}).empty());
  }
  SECTION("'..' and absolute paths in file:, env_file and extends") {
    r.Write("compose.yml", base +
                               "    env_file:\n      - ../host-secrets\n      - path: /etc/passwd\n        required: false\n"
                               "    extends: {file: ../../common.yml, service: base}\n"
                               "configs:\n  conf:\n    file: ./configs/../../host-secrets\n"
                               "secrets:\n  shadow:\n    file: /etc/shadow\n");
    auto findings = r.Check({"compose.yml"});
    INFO(Dump(findings));
    REQUIRE(findings.size() == 5);
    CHECK(findings[0].key == "env_file");
    CHECK(findings[0].detail == "../host-secrets (resolves to " + outside.string() + ")");
    CHECK(findings[1] == PolicyFinding{"compose.yml", "app", "env_file", "/etc/passwd (resolves to /etc/passwd)",
                                       "path-outside-recipe"});
    CHECK(findings[2].key == "extends");
    CHECK(findings[3].key == "configs.conf.file");
    CHECK(findings[4] == PolicyFinding{"compose.yml", "", "secrets.shadow.file", "/etc/shadow (resolves to /etc/shadow)",
                                       "path-outside-recipe"});
  }
  SECTION("an overlay in a subfolder is judged from both folders") {
    r.Write("overlays/compose.x.yml", "version: \"3.8\"\nservices:\n  app:\n    env_file: ../x.env\n");
    r.Write("compose.yml", base);
    // From overlays/ the file is the recipe's x.env; from the recipe folder it is outside.
    CHECK(Rules(r.Check({"compose.yml", "overlays/compose.x.yml"})) ==
          std::vector<std::string>{"path-outside-recipe"});
  }
  SECTION("a compose file outside the recipe is refused and never read") {
    r.Write("compose.yml", base);
    fs::create_symlink(outside, r.root / "compose.evil.yml");
    auto findings = r.Check({"compose.yml", "compose.evil.yml"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0] == PolicyFinding{"compose.evil.yml", "", "", "resolves to " + outside.string(),
                                       "path-outside-recipe"});
  }
  SECTION("an extended file inside the recipe is judged too") {
    r.Write("common/base.yml", "services:\n  base:\n    privileged: true\n");
    r.Write("compose.yml", base + "    extends: {file: common/base.yml, service: base}\n");
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 1);
    CHECK(findings[0] == PolicyFinding{"common/base.yml", "base", "privileged", "true", "privileged"});
  }
  SECTION("include outside the recipe") {
    r.Write("compose.yml", base + "include:\n  - ../other/compose.yml\n  - path: [inside.yml]\n");
    r.Write("inside.yml", "services:\n  side:\n    image: busybox\n    pid: host\n");
    auto findings = r.Check({"compose.yml"});
    REQUIRE(findings.size() == 2);
    CHECK(findings[0].key == "include");
    CHECK(findings[0].service == "");
    CHECK(findings[1] == PolicyFinding{"inside.yml", "side", "pid", "host", "host-pid"});
  }
}

TEST_CASE("secrets, configs and volumes named after another stack are foreign", "[policy]") {
  Recipe r;
  r.Write("compose.yml", "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n"
                         "secrets:\n  mine:\n    external: true\n    name: ${STACK_NAME}_mine_v1\n"
                         "  theirs:\n    external: true\n    name: warm-gitea_db_password_v1\n"
                         "  bare:\n    external: true\n"
                         "configs:\n  conf:\n    external:\n      name: traefik_conf_v1\n"
                         "volumes:\n  data:\n  own:\n    name: ${STACK_NAME}_own\n"
                         "  stolen:\n    name: warm-gitea_data\n");
  auto findings = r.Check({"compose.yml"});
  INFO(Dump(findings));
  REQUIRE(findings.size() == 4);
  CHECK(findings[0] == PolicyFinding{"compose.yml", "", "volumes.stolen.name", "warm-gitea_data", "foreign-object"});
  CHECK(findings[1] == PolicyFinding{"compose.yml", "", "configs.conf.name", "traefik_conf_v1", "foreign-object"});
  CHECK(findings[2] == PolicyFinding{"compose.yml", "", "secrets.theirs.name", "warm-gitea_db_password_v1",
                                     "foreign-object"});
  CHECK(findings[3] == PolicyFinding{"compose.yml", "", "secrets.bare.name", "bare", "foreign-object"});
}

TEST_CASE("the allow-list lets a rule through for its recipe only", "[policy]") {
  Recipe r;
  r.Write("compose.yml", "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1\n    cap_add: [NET_ADMIN]\n"
                         "    volumes: [\"/var/run/docker.sock:/s\", \"/srv:/srv\"]\n"
                         "  worker:\n    image: nginx:1\n    cap_add: [NET_ADMIN]\n");
  REQUIRE(Rules(r.Check({"compose.yml"})) ==
          std::vector<std::string>{"docker-socket", "host-bind", "cap-add", "cap-add"});
  ComposePolicy policy;
  policy.allow["gitea"] = {"docker-socket", "app:cap-add"};
  auto findings = r.Check({"compose.yml"}, policy);
  REQUIRE(findings.size() == 2);
  CHECK(findings[0].rule == "host-bind");
  CHECK((findings[1].rule == "cap-add" && findings[1].service == "worker"));
  // Another recipe gets nothing of gitea's allowances.
  CHECK(r.Check({"compose.yml"}, policy, "other").size() == 4);
  // Allowing host binds does not allow the socket.
  policy.allow["gitea"] = {"host-bind", "cap-add"};
  CHECK(Rules(r.Check({"compose.yml"}, policy)) == std::vector<std::string>{"docker-socket"});
}

TEST_CASE("images come only from allowed registries when a list is set", "[policy]") {
  struct Case {
    const char* image;
    const char* registry;  // "" when allowed by {docker.io, 127.0.0.1:5000}
  };
  const Case cases[] = {
      {"nginx:1", ""},
      {"gitea/gitea:1.22", ""},
      {"docker.io/library/postgres:16", ""},
      {"index.docker.io/library/postgres:16", ""},
      {"127.0.0.1:5000/app/web:1.2", ""},
      {"postgres@sha256:0123456789abcdef", ""},
      {"ghcr.io/evil/miner:latest", "ghcr.io"},
      {"localhost/app:1", "localhost"},
      {"127.0.0.1:5001/app:1", "127.0.0.1:5001"},
      {"registry.example.com:443/x/y", "registry.example.com:443"},
      {"${REGISTRY:-quay.io}/app:1", "quay.io"},
  };
  ComposePolicy policy;
  policy.allowed_registries = {"docker.io", "127.0.0.1:5000"};
  for (const auto& c : cases) {
    Recipe r;
    INFO(c.image);
    r.Write("compose.yml", std::string("services:\n  app:\n    image: \"") + c.image + "\"\n");
    auto findings = r.Check({"compose.yml"}, policy);
    if (std::string(c.registry).empty()) {
      CHECK(findings.empty());
    } else {
      REQUIRE(findings.size() == 1);
      CHECK(findings[0].key == "image");
      CHECK(findings[0].rule == "registry");
      CHECK(findings[0].detail.find(std::string("(registry ") + c.registry + ")") != std::string::npos);
      CHECK(r.Check({"compose.yml"}).empty());  // no list: any registry
    }
  }
}

TEST_CASE("a compose file that cannot be read or judged is an error naming it", "[policy]") {
  Recipe r;
  r.Write("compose.yml", "services:\n  app:\n    image: nginx:1\n");
  auto missing = CheckComposePolicy(r.root.string(), {"compose.yml", "compose.db.yml"}, r.env, "gitea", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kInvalidArgument);
  CHECK(missing.status().message().find("compose.db.yml") != std::string::npos);

  r.Write("compose.db.yml", "services:\n  db:\n    image: [unclosed\n");
  auto broken = CheckComposePolicy(r.root.string(), {"compose.yml", "compose.db.yml"}, r.env, "gitea", {});
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().message().rfind("compose.db.yml:", 0) == 0);

  // Two `privileged` keys: parsers disagree on which wins, so neither is trusted.
  r.Write("compose.db.yml", "services:\n  db:\n    privileged: false\n    privileged: true\n");
  auto twice = CheckComposePolicy(r.root.string(), {"compose.db.yml"}, r.env, "gitea", {});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.status().message() == "compose.db.yml:4: 'privileged' appears twice in one mapping");

  auto no_folder = CheckComposePolicy((r.root / "nope").string(), {"compose.yml"}, r.env, "gitea", {});
  CHECK(no_folder.status().code() == Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace harness
