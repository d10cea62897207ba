#include "recipe/naming.h"

#include <random>

#include "base/time.h"

namespace harness {
namespace {

bool LowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string RandomChars(size_t n, const std::string& alphabet) {
  std::random_device rd;
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) out += alphabet[pick(rd)];
  return out;
}

}  // namespace

Status ValidateRecipeName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 40 && LowerAlnum(name[0]);
  for (char c : name) ok = ok && (LowerAlnum(c) || c == '-');
  if (!ok) {
    return Status::InvalidArgument("bad recipe name '" + name +
                                   "': use lower-case letters, digits and '-' (at most 40)");
  }
  return Status::Ok();
}

Status ValidateDomain(const std::string& domain) {
  bool ok = !domain.empty() && domain.size() <= 253 && domain.front() != '.' &&
            domain.back() != '.' && domain.find("..") == std::string::npos;
  for (char c : domain) ok = ok && (LowerAlnum(c) || c == '-' || c == '.');
  if (!ok) return Status::InvalidArgument("bad domain '" + domain + "'");
  return Status::Ok();
}

std::string NewNamespace(const std::string& recipe) {
  std::string prefix = recipe.substr(0, kNamespacePrefix);
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  if (prefix.empty()) prefix = "r";
  return prefix + "-" + RandomChars(6, "abcdefghijklmnopqrstuvwxyz0123456789");
}

std::string NewRunId(const std::string& ns, bool namespace_is_new) {
  std::string id = UtcStamp() + "-" + ns;
  if (!namespace_is_new) id += "-" + RandomChars(4, "abcdefghijklmnopqrstuvwxyz0123456789");
  return id;
}

Status CheckDerivedNames(const std::string& ns, const ComposeObjects& objects) {
  std::string problems;
  auto add = [&](const std::string& what, const std::string& name, size_t limit) {
    if (name.size() > limit) {
      problems += (problems.empty() ? "" : "; ") + what + " '" + name + "' is " +
                  std::to_string(name.size()) + " characters (limit " + std::to_string(limit) + ")";
    }
  };
  for (const auto& s : objects.services) add("service name", SwarmServiceName(ns, objects, s), kMaxServiceName);
  for (const auto& [key, name] : objects.secrets) add("secret name", name, kMaxSecretName);
  for (const auto& [key, name] : objects.configs) add("config name", name, kMaxSecretName);
  if (!problems.empty()) {
    return Status::InvalidArgument("derived Swarm names too long in namespace " + ns + ": " + problems);
  }
  return Status::Ok();
}

std::string GenerateSecret(int length, const std::string& charset) {
  static const std::string alnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static const std::string hex = "0123456789abcdef";
  // Punctuation that a shell, YAML or an env file takes without quoting troubles.
  static const std::string special = alnum + "!+,-.:=?@^_~";
  return RandomChars(static_cast<size_t>(length), charset == "hex" ? hex : charset == "special" ? special : alnum);
}

}  // namespace harness
