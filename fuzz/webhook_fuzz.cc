// Fuzz target: a webhook delivery as serve receives it (forge/webhook.h).
//
// Input: the event header on the first line, the signature header on the second, the
// body after. Checks that a signature verifies exactly when it is the body's HMAC (in
// either case, with or without "sha256="), that an empty secret never verifies, and that
// what ParseWebhook returns is whole: a run request names a repository, a pull request
// and a commenter, and no message repeats a long body.
#include <cctype>

#include "forge/webhook.h"
#include "fuzz_support.h"

namespace harness {
namespace {

const std::string kSecret = "hook-secret-7f3a";

void CheckSignatures(const std::string& signature, const std::string& body) {
  std::string mac = HmacSha256Hex(kSecret, body);
  FUZZ_CHECK(mac.size() == 64, mac);
  FUZZ_CHECK(VerifySignature(kSecret, body, mac), mac);
  std::string upper = mac;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  FUZZ_CHECK(VerifySignature(kSecret, body, "sha256=" + upper), upper);
  FUZZ_CHECK(!VerifySignature("", body, signature), signature);
  FUZZ_CHECK(!VerifySignature("", body, HmacSha256Hex("", body)), "empty secret");
  // A given signature verifies only if it is the MAC, however it is spelled.
  if (VerifySignature(kSecret, body, signature)) {
    std::string hex;
    for (char c : signature) {
      if (std::isxdigit(static_cast<unsigned char>(c))) {
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    FUZZ_CHECK(hex.size() >= 64 && hex.compare(hex.size() - 64, 64, mac) == 0, signature);
  }
}

void CheckEvent(const std::string& event, const std::string& body) {
  auto parsed = ParseWebhook(event, body);
  if (!parsed.ok()) {
    FUZZ_CHECK(body.size() <= 64 || parsed.status().message().find(body) == std::string::npos,
               parsed.status().message());
    return;
  }
  const ForgeEvent& e = *parsed;
  if (e.kind == ForgeEvent::Kind::kIgnored) {
    FUZZ_CHECK(!e.why_ignored.empty(), "an ignored event says why");
    FUZZ_CHECK(body.size() <= 64 || e.why_ignored.find(body) == std::string::npos, e.why_ignored);
    return;
  }
  FUZZ_CHECK(!e.full_name.empty() && !e.repo.empty() && !e.owner.empty() && !e.clone_url.empty(),
             "a run request names its repository");
  FUZZ_CHECK(e.pr > 0 && !e.user.empty(), "a run request names its pull request and user");
  if (e.kind == ForgeEvent::Kind::kTestme) FUZZ_CHECK(e.comment_id > 0, "a comment id");
  if (e.kind == ForgeEvent::Kind::kPullUpdated) FUZZ_CHECK(!e.head_sha.empty(), "a head commit");
}

}  // namespace
}  // namespace harness

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace harness;
  auto [event, rest] = fuzz::FirstLine(fuzz::Text(data, size));
  auto [signature, body] = fuzz::FirstLine(rest);
  CheckSignatures(signature, body);
  CheckEvent(event, body);
  IsTestmeComment(body);
  return 0;
}
