#include "verdict/fingerprint.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

TEST_CASE("fingerprints: run-specific parts are replaced", "[verdict][fingerprint]") {
  CHECK(NormalizeError("did not converge within the deploy budget of 9.0s; last state: "
                       "slow-boot-rg2tkv_app 0/1") ==
        "did not converge within the deploy budget of <dur>; last state: <ns>_app <n>/<n>");
  CHECK(NormalizeError("see 20261126T052620-transient-a1b2c3/03-test.json") ==
        "see <run>/<n>-test.json");
  CHECK(NormalizeError("connect to 10.0.3.7:8081 refused") == "connect to <addr> refused");
  CHECK(NormalizeError("dial [fd00::1]:443 failed") == "dial <addr> failed");
  CHECK(NormalizeError("at 2026-11-26T05:25:00Z, then 05:25:03.120") == "at <time>, then <time>");
  CHECK(NormalizeError("container 3f9a2b7c1d0e exited") == "container <hex> exited");
  CHECK(NormalizeError("id 123e4567-e89b-12d3-a456-426614174000 gone") == "id <hex> gone");
  CHECK(NormalizeError("timed out after 1m30s (waited 250ms, 3 seconds)") ==
        "timed out after <dur> (waited <dur>, <dur>)");
  CHECK(NormalizeError("  expected 200,\n\tgot 404  ") == "expected <n>, got <n>");
  // Words that merely look alike are kept.
  CHECK(NormalizeError("slow-boot failed: deadbeef and utf-8") ==
        "slow-boot failed: deadbeef and utf-<n>");
}

TEST_CASE("fingerprints: the run's own names are replaced whatever their shape",
          "[verdict][fingerprint]") {
  // A namespace with no digit in its random part does not look like one; given, it is replaced.
  CHECK(NormalizeError("service web-abcdef_app failed", {"web-abcdef"}) ==
        "service <ns>_app failed");
  CHECK(NormalizeError("in 20261126T0525-web-abcdef: web-abcdef_app",
                       {"web-abcdef", "20261126T0525-web-abcdef"}) == "in <run>: <ns>_app");
}

TEST_CASE("fingerprints: the same failure in two runs is one fingerprint",
          "[verdict][fingerprint]") {
  Fingerprint a = MakeFingerprint("converge", "",
                                  "did not converge within 9.0s; last state: web-k3x9a2_app 0/1");
  Fingerprint b = MakeFingerprint("converge", "",
                                  "did not converge within 9.3s; last state: web-p0q7zz_app 0/1");
  CHECK(a.key == b.key);
  CHECK(a.id == b.id);
  CHECK(a.key == "converge |  | did not converge within <dur>; last state: <ns>_app <n>/<n>");
  // The id is short and stable: fp- and 8 hex digits of the key.
  CHECK(a.id.size() == 11);
  CHECK(a.id.rfind("fp-", 0) == 0);
  CHECK(FingerprintId(a.key) == a.id);
}

TEST_CASE("fingerprints: another phase, test or message is another failure",
          "[verdict][fingerprint]") {
  Fingerprint base = MakeFingerprint("test", "health endpoint answers",
                                     "status of /api/health: expected 200, got 404");
  CHECK(MakeFingerprint("test", "serves the index", "status of /api/health: expected 200, got 404")
            .key != base.key);
  CHECK(MakeFingerprint("converge", "health endpoint answers",
                        "status of /api/health: expected 200, got 404")
            .key != base.key);
  CHECK(MakeFingerprint("test", "health endpoint answers", "connection refused").key != base.key);
  // Numbers are run-specific parts: another status code is the same fingerprint.
  CHECK(MakeFingerprint("test", "health endpoint answers",
                        "status of /api/health: expected 200, got 500")
            .key == base.key);
}

}  // namespace
}  // namespace harness
