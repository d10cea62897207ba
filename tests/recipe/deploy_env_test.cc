// The deploy environment of a recipe folder: .env.sample, abra.sh's literal exports, the
// script's env and the harness's own values, in that order, and the compose files chosen.
#include "recipe/deploy_env.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/temp_dir.h"

namespace harness {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

const char* kNamespace = "gitea-k3x9a2";
const char* kDomain = "gitea-k3x9a2.test.local";

// Shaped like coop-cloud/gitea: line numbers are checked below.
const char* kEnvSample = R"ENV(TYPE=gitea
DOMAIN=gitea.example.com
LETS_ENCRYPT_ENV=production

## Overlays
COMPOSE_FILE="compose.yml"
COMPOSE_FILE="$COMPOSE_FILE:compose.postgres.yml"
#COMPOSE_FILE="$COMPOSE_FILE:overlays/compose.smtp.yml"

SECRET_DB_PASSWORD_VERSION=v2 # length=64 charset=hex
SECRET_ADMIN_TOKEN_VERSION=v1 # length=32
LAYERED=from-sample
STACK_NAME=gitea_example_com
)ENV";

const char* kAbraSh = R"SH(# abra.sh of the recipe
export ENTRYPOINT_VERSION=v2
export X=${X:-fallback}
export LAYERED=from-abra
export DOMAIN=abra.example.com

backup() {
  pg_dump -U gitea gitea > /backup/dump.sql
}

source ./lib.sh
)SH";

const char* kCompose = R"YML(version: "3.8"
services:
  app:
    image: gitea/gitea:1.22
    environment:
      - GITEA__server__DOMAIN=${DOMAIN}
    secrets:
      - db_password
secrets:
  db_password:
    external: true
    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
)YML";

const char* kPostgres = R"YML(version: "3.8"
services:
  db:
    image: postgres:16
    secrets:
      - db_password
      - db_root_password
secrets:
  db_root_password:
    external: true
    name: ${STACK_NAME}_db_root_password_${SECRET_DB_ROOT_PASSWORD_VERSION}
)YML";

const char* kSmtp = R"YML(version: "3.8"
services:
  app:
    secrets:
      - smtp_password
secrets:
  smtp_password:
    external: true
    name: ${STACK_NAME}_smtp_password_${SECRET_SMTP_PASSWORD_VERSION}
)YML";

// A recipe folder in `tmp` with every file above.
std::string GiteaRecipe(const TempDir& tmp) {
  fs::path dir = fs::path(tmp.path()) / "gitea";
  Write(dir / "compose.yml", kCompose);
  Write(dir / "compose.postgres.yml", kPostgres);
  Write(dir / "overlays/compose.smtp.yml", kSmtp);
  Write(dir / ".env.sample", kEnvSample);
  Write(dir / "abra.sh", kAbraSh);
  return dir.string();
}

DeployEnv MustRead(const std::string& dir, const RecipeSpec& spec) {
  Result<DeployEnv> env = ReadDeployEnvironment(dir, spec, kNamespace, kDomain);
  INFO(env.status().ToString());
  REQUIRE(env.ok());
  return *env;
}

Status MustFail(const std::string& dir, const RecipeSpec& spec) {
  Result<DeployEnv> env = ReadDeployEnvironment(dir, spec, kNamespace, kDomain);
  REQUIRE_FALSE(env.ok());
  CHECK(env.status().code() == Status::Code::kInvalidArgument);
  return env.status();
}

TEST_CASE("deploy env: later layers win, and each value says where it came from", "[deploy-env]") {
  TempDir tmp("deploy-env-test");
  std::string dir = GiteaRecipe(tmp);
  RecipeSpec spec;
  spec.env = {{"LAYERED", "from-script"}, {"DOMAIN", "script.example.com"}, {"APP_NAME", "Gitea"}};
  DeployEnv env = MustRead(dir, spec);

  // DOMAIN is in all four layers: the harness's is deployed.
  CHECK(env.env.at("DOMAIN") == kDomain);
  CHECK(env.origin.at("DOMAIN") == "harness");
  CHECK(env.env.at("STACK_NAME") == kNamespace);
  CHECK(env.origin.at("STACK_NAME") == "harness");
  // In three: the script's.
  CHECK(env.env.at("LAYERED") == "from-script");
  CHECK(env.origin.at("LAYERED") == "recipe.lua");
  CHECK(env.env.at("APP_NAME") == "Gitea");
  CHECK(env.origin.at("APP_NAME") == "recipe.lua");
  // In one.
  CHECK(env.env.at("TYPE") == "gitea");
  CHECK(env.origin.at("TYPE") == ".env.sample:1");
  CHECK(env.env.at("LETS_ENCRYPT_ENV") == "production");
  CHECK(env.origin.at("LETS_ENCRYPT_ENV") == ".env.sample:3");
  CHECK(env.env.at("ENTRYPOINT_VERSION") == "v2");
  CHECK(env.origin.at("ENTRYPOINT_VERSION") == "abra.sh:2");
  CHECK(env.env.at("X") == "fallback");
  CHECK(env.origin.at("X") == "abra.sh:3");

  SECTION("without the script's env, abra.sh wins over .env.sample") {
    DeployEnv plain = MustRead(dir, RecipeSpec{});
    CHECK(plain.env.at("LAYERED") == "from-abra");
    CHECK(plain.origin.at("LAYERED") == "abra.sh:4");
    CHECK(plain.env.at("DOMAIN") == kDomain);
    CHECK(plain.env.count("APP_NAME") == 0);
  }
  SECTION("without abra.sh, .env.sample's value stays") {
    fs::remove(fs::path(dir) / "abra.sh");
    DeployEnv sample = MustRead(dir, RecipeSpec{});
    CHECK(sample.env.at("LAYERED") == "from-sample");
    CHECK(sample.origin.at("LAYERED") == ".env.sample:12");
    CHECK(sample.env.count("ENTRYPOINT_VERSION") == 0);
    CHECK(sample.not_applied.empty());
  }
  SECTION("abra.sh's ${X:-default} sees .env.sample's X") {
    Write(fs::path(dir) / ".env.sample", std::string(kEnvSample) + "X=given\n");
    DeployEnv given = MustRead(dir, RecipeSpec{});
    CHECK(given.env.at("X") == "given");
    CHECK(given.origin.at("X") == "abra.sh:3");
  }
}

TEST_CASE("deploy env: COMPOSE_FILE chooses the compose files unless the script names them", "[deploy-env]") {
  TempDir tmp("deploy-env-test");
  std::string dir = GiteaRecipe(tmp);

  SECTION(".env.sample's COMPOSE_FILE, the smtp line commented out") {
    DeployEnv env = MustRead(dir, RecipeSpec{});
    CHECK(env.compose == std::vector<std::string>{"compose.yml", "compose.postgres.yml"});
    CHECK(env.compose_reason == "COMPOSE_FILE from .env.sample:7");
    CHECK(env.env.at("COMPOSE_FILE") == "compose.yml:compose.postgres.yml");
  }
  SECTION("the script's env may set COMPOSE_FILE") {
    RecipeSpec spec;
    spec.env = {{"COMPOSE_FILE", "compose.yml:overlays/compose.smtp.yml"}};
    DeployEnv env = MustRead(dir, spec);
    CHECK(env.compose == std::vector<std::string>{"compose.yml", "overlays/compose.smtp.yml"});
    CHECK(env.compose_reason == "COMPOSE_FILE from recipe.lua");
  }
  SECTION("the script's compose wins over COMPOSE_FILE, even one naming a missing file") {
    Write(fs::path(dir) / ".env.sample", std::string(kEnvSample) + "COMPOSE_FILE=\"$COMPOSE_FILE:compose.mailu.yml\"\n");
    RecipeSpec spec;
    spec.compose_given = true;
    spec.compose = {"compose.yml"};
    DeployEnv env = MustRead(dir, spec);
    CHECK(env.compose == std::vector<std::string>{"compose.yml"});
    CHECK(env.compose_reason == "the script's compose field");
  }
  SECTION("no COMPOSE_FILE anywhere: compose.yml") {
    fs::remove(fs::path(dir) / ".env.sample");
    DeployEnv env = MustRead(dir, RecipeSpec{});
    CHECK(env.compose == std::vector<std::string>{"compose.yml"});
    CHECK(env.compose_reason == "the default compose.yml");
  }
}

TEST_CASE("deploy env: every declared secret gets a version, .env.sample's kept", "[deploy-env]") {
  TempDir tmp("deploy-env-test");
  std::string dir = GiteaRecipe(tmp);

  SECTION("of the chosen compose files and the script") {
    RecipeSpec spec;
    spec.secrets = {SecretSpec{"api_key", 32, "alnum"}};
    DeployEnv env = MustRead(dir, spec);
    CHECK(env.env.at("SECRET_DB_PASSWORD_VERSION") == "v2");
    CHECK(env.origin.at("SECRET_DB_PASSWORD_VERSION") == ".env.sample:10");
    CHECK(env.env.at("SECRET_DB_ROOT_PASSWORD_VERSION") == "v1");  // compose.postgres.yml, no line
    CHECK(env.origin.at("SECRET_DB_ROOT_PASSWORD_VERSION") == "harness");
    CHECK(env.env.at("SECRET_API_KEY_VERSION") == "v1");
    CHECK(env.origin.at("SECRET_API_KEY_VERSION") == "harness");
    CHECK(env.env.at("SECRET_ADMIN_TOKEN_VERSION") == "v1");
    CHECK(env.origin.at("SECRET_ADMIN_TOKEN_VERSION") == ".env.sample:11");
    // The smtp overlay is not chosen: its secret is not declared.
    CHECK(env.env.count("SECRET_SMTP_PASSWORD_VERSION") == 0);

    REQUIRE(env.secret_hints.count("db_password") == 1);
    CHECK(env.secret_hints.at("db_password").length == 64);
    CHECK(env.secret_hints.at("db_password").charset == "hex");
    REQUIRE(env.secret_hints.count("admin_token") == 1);
    CHECK(env.secret_hints.at("admin_token").length == 32);
    CHECK(env.secret_hints.at("admin_token").charset.empty());
    CHECK(env.secret_hints.count("db_root_password") == 0);
  }
  SECTION("of the script's compose files") {
    RecipeSpec spec;
    spec.compose_given = true;
    spec.compose = {"compose.yml", "overlays/compose.smtp.yml"};
    DeployEnv env = MustRead(dir, spec);
    CHECK(env.env.at("SECRET_SMTP_PASSWORD_VERSION") == "v1");
    CHECK(env.origin.at("SECRET_SMTP_PASSWORD_VERSION") == "harness");
    CHECK(env.env.count("SECRET_DB_ROOT_PASSWORD_VERSION") == 0);
  }
  SECTION("the script's env sets a version; an empty one is v1") {
    Write(fs::path(dir) / ".env.sample", std::string(kEnvSample) + "SECRET_DB_ROOT_PASSWORD_VERSION=\n");
    RecipeSpec spec;
    spec.env = {{"SECRET_DB_PASSWORD_VERSION", "v3"}};
    DeployEnv env = MustRead(dir, spec);
    CHECK(env.env.at("SECRET_DB_PASSWORD_VERSION") == "v3");
    CHECK(env.origin.at("SECRET_DB_PASSWORD_VERSION") == "recipe.lua");
    CHECK(env.env.at("SECRET_DB_ROOT_PASSWORD_VERSION") == "v1");
    CHECK(env.origin.at("SECRET_DB_ROOT_PASSWORD_VERSION") == "harness");
  }
}

TEST_CASE("deploy env: abra.sh lines that are not literal exports are listed", "[deploy-env]") {
  TempDir tmp("deploy-env-test");
  DeployEnv env = MustRead(GiteaRecipe(tmp), RecipeSpec{});
  REQUIRE(env.not_applied.size() == 2);
  CHECK(env.not_applied[0].line == 7);
  CHECK(env.not_applied[0].text == "backup() {");
  CHECK(env.not_applied[0].why == "shell function, never run (lines 7-9)");
  CHECK(env.not_applied[1].line == 11);
  CHECK(env.not_applied[1].text == "source ./lib.sh");
  CHECK_THAT(env.not_applied[1].why, Catch::Contains("never run"));
  // The function's body set nothing.
  CHECK(env.env.count("pg_dump") == 0);
}

TEST_CASE("deploy env: a malformed .env.sample or a missing overlay is the recipe's error", "[deploy-env]") {
  TempDir tmp("deploy-env-test");
  std::string dir = GiteaRecipe(tmp);

  SECTION("a malformed line, by file and line") {
    Write(fs::path(dir) / ".env.sample", "TYPE=gitea\nDOMAIN=gitea.example.com\nLETS ENCRYPT=production\n");
    Status s = MustFail(dir, RecipeSpec{});
    CHECK_THAT(s.message(), Catch::StartsWith(".env.sample:3: "));
    // Even when the script names its compose files.
    RecipeSpec spec;
    spec.compose_given = true;
    spec.compose = {"compose.yml"};
    CHECK_THAT(MustFail(dir, spec).message(), Catch::StartsWith(".env.sample:3: "));
  }
  SECTION("COMPOSE_FILE naming an overlay the recipe does not have") {
    fs::remove(fs::path(dir) / "overlays/compose.smtp.yml");
    std::string sample = kEnvSample;
    sample.replace(sample.find("#COMPOSE_FILE"), 1, "");  // line 8 uncommented
    Write(fs::path(dir) / ".env.sample", sample);
    Status s = MustFail(dir, RecipeSpec{});
    CHECK_THAT(s.message(), Catch::Contains("overlays/compose.smtp.yml"));
    CHECK_THAT(s.message(), Catch::Contains(".env.sample:8"));
    CHECK_THAT(s.message(), Catch::Contains("does not have"));
  }
  SECTION("COMPOSE_FILE leaving the recipe folder") {
    RecipeSpec spec;
    spec.env = {{"COMPOSE_FILE", "../compose.yml"}};
    Status s = MustFail(dir, spec);
    CHECK_THAT(s.message(), Catch::Contains("../compose.yml") && Catch::Contains("recipe.lua"));
  }
}

TEST_CASE("deploy env: the secret's version variable", "[deploy-env]") {
  CHECK(SecretVersionVariable("db_password") == "SECRET_DB_PASSWORD_VERSION");
  CHECK(SecretVersionVariable("api_key2") == "SECRET_API_KEY2_VERSION");
}

}  // namespace
}  // namespace harness
