#include "exec/target.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>

namespace harness {
namespace {

bool ValidUser(const std::string& u) {
  if (u.empty() || u.size() > 32 || u[0] == '-') return false;
  for (unsigned char c : u) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

// RFC 1123 names and dotted IPv4 addresses.
bool ValidHostName(const std::string& h) {
  if (h.empty() || h.size() > 253 || h[0] == '-' || h[0] == '.') return false;
  for (unsigned char c : h) {
    if (!(std::isalnum(c) || c == '-' || c == '.')) return false;
  }
  return true;
}

bool ValidIpv6(const std::string& h) {
  if (h.empty() || h.size() > 45) return false;
  for (unsigned char c : h) {
    if (!(std::isxdigit(c) || c == ':' || c == '.')) return false;
  }
  return h.find(':') != std::string::npos;
}

std::string LocalUser() {
  if (const passwd* pw = getpwuid(geteuid()); pw != nullptr) return pw->pw_name;
  return "root";
}

}  // namespace

std::string Target::Describe() const {
  if (local) return "local";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "ssh://" + user + "@" + h + ":" + std::to_string(port);
}

Result<Target> ParseTarget(const std::string& spec) {
  Target t;
  if (spec.empty() || spec == "local") return t;
  const std::string scheme = "ssh://";
  if (spec.rfind(scheme, 0) != 0) {
    return Status::InvalidArgument("target '" + spec + "': expected 'local' or ssh://[user@]host[:port]");
  }
  std::string rest = spec.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  t.local = false;
  if (auto at = rest.find('@'); at != std::string::npos) {
    t.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (!ValidUser(t.user)) {
      return Status::InvalidArgument("target '" + spec + "': user name may hold only letters, digits, '_', '-' and '.'");
    }
  } else {
    t.user = LocalUser();
  }
  std::string port;
  bool has_port = false;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("target '" + spec + "': unclosed '[' in the host");
    t.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument("target '" + spec + "': unexpected text after the host");
      port = after.substr(1);
      has_port = true;
    }
    if (!ValidIpv6(t.host)) return Status::InvalidArgument("target '" + spec + "': not an IPv6 address: " + t.host);
  } else {
    auto colon = rest.find(':');
    t.host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port = rest.substr(colon + 1);
      has_port = true;
    }
    if (!ValidHostName(t.host)) {
      return Status::InvalidArgument("target '" + spec + "': host may hold only letters, digits, '-' and '.'");
    }
  }
  if (has_port) {
    bool digits = !port.empty() && port.size() <= 5;
    for (unsigned char c : port) digits = digits && std::isdigit(c);
    int p = digits ? std::stoi(port) : 0;
    if (p < 1 || p > 65535) return Status::InvalidArgument("target '" + spec + "': port must be 1-65535");
    t.port = p;
  }
  return t;
}

}  // namespace harness
