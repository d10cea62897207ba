#include "recipe/releases.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>

namespace harness {
namespace fs = std::filesystem;

namespace {

// Splits "1.2.0-rc1" into {"1","2","0"} and "rc1".
void Parts(const std::string& v, std::vector<std::string>* parts, std::string* pre) {
  std::string main = v.substr(0, v.find('-'));
  *pre = main.size() < v.size() ? v.substr(main.size() + 1) : "";
  size_t start = 0;
  while (start <= main.size()) {
    size_t dot = main.find('.', start);
    parts->push_back(main.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
}

bool Numeric(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

int CompareParts(const std::string& a, const std::string& b) {
  if (Numeric(a) && Numeric(b)) {
    std::string x = a.substr(std::min(a.find_first_not_of('0'), a.size()));
    std::string y = b.substr(std::min(b.find_first_not_of('0'), b.size()));
    if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    return x.compare(y) < 0 ? -1 : x.compare(y) > 0 ? 1 : 0;
  }
  if (Numeric(a) != Numeric(b)) return Numeric(a) ? -1 : 1;
  return a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
}

int CompareSemver(const std::string& a, const std::string& b) {
  std::vector<std::string> pa, pb;
  std::string prea, preb;
  Parts(a, &pa, &prea);
  Parts(b, &pb, &preb);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    int c = CompareParts(i < pa.size() ? pa[i] : "0", i < pb.size() ? pb[i] : "0");
    if (c != 0) return c;
  }
  if (prea.empty() != preb.empty()) return prea.empty() ? 1 : -1;
  return CompareParts(prea, preb);
}

}  // namespace

Status ValidateVersion(const std::string& v) {
  if (v.empty() || v.size() > 64 || !std::isdigit(static_cast<unsigned char>(v[0]))) {
    return Status::InvalidArgument("invalid version '" + v + "': expected <recipe semver>+<upstream version>, e.g. 1.2.0+3.6.0");
  }
  for (unsigned char c : v) {
    if (!(std::islower(c) || std::isdigit(c) || c == '.' || c == '+' || c == '-' || c == '_')) {
      return Status::InvalidArgument("invalid version '" + v + "': only a-z, 0-9, '.', '+', '-' and '_' are allowed");
    }
  }
  return Status::Ok();
}

int CompareVersions(const std::string& a, const std::string& b) {
  std::string sa = a.substr(0, a.find('+')), sb = b.substr(0, b.find('+'));
  if (int c = CompareSemver(sa, sb); c != 0) return c;
  std::string ua = a.size() > sa.size() ? a.substr(sa.size() + 1) : "";
  std::string ub = b.size() > sb.size() ? b.substr(sb.size() + 1) : "";
  if (ua.empty() != ub.empty()) return ua.empty() ? -1 : 1;
  return CompareSemver(ua, ub);
}

int MajorVersion(const std::string& version) {
  std::string major = version.substr(0, version.find_first_of(".+-"));
  if (!Numeric(major)) return -1;
  // A tag may hold any number of digits ("99999999999.0.0+1" is a valid version): one
  // beyond an int is the largest there is, so that a bump to it is still a major bump.
  major = major.substr(std::min(major.find_first_not_of('0'), major.size()));
  if (major.empty()) return 0;
  if (major.size() > 10) return std::numeric_limits<int>::max();
  long long n = std::stoll(major);
  return n > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : static_cast<int>(n);
}

Result<std::vector<std::string>> ListReleases(const std::string& recipes_dir, const std::string& recipe) {
  std::vector<std::string> versions;
  std::error_code ec;
  fs::path dir = fs::path(recipes_dir) / recipe / "releases";
  if (!fs::exists(dir, ec)) return versions;
  // The range-for form would throw from its increment: each step is checked instead.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path path = it->path();
    std::string v = path.filename().string();
    std::error_code look;  // what cannot be looked at is not a release folder
    if (!fs::is_directory(path, look) || !fs::exists(path / "recipe.lua", look)) continue;
    if (Status s = ValidateVersion(v); !s.ok()) {
      return Status::InvalidArgument(path.string() + ": " + s.message());
    }
    versions.push_back(v);
  }
  if (ec) return Status::Infra("cannot list " + dir.string() + ": " + ec.message());
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return CompareVersions(a, b) < 0; });
  return versions;
}

Result<std::string> RecipeDir(const std::string& recipes_dir, const std::string& recipe, const std::string& version) {
  std::string dir = recipes_dir + "/" + recipe;
  if (version.empty()) return dir;
  if (Status s = ValidateVersion(version); !s.ok()) return s;
  std::string release = dir + "/releases/" + version;
  if (std::error_code ec; fs::exists(release + "/recipe.lua", ec)) return release;
  auto known = ListReleases(recipes_dir, recipe);
  std::string list;
  if (known.ok()) {
    for (const auto& v : *known) list += (list.empty() ? "" : ", ") + v;
  }
  return Status::NotFound("recipe '" + recipe + "' has no release " + version + " (releases: " +
                          (list.empty() ? "none" : list) + ")");
}

std::pair<std::string, std::string> SplitRecipeVersion(const std::string& text) {
  auto at = text.find('@');
  if (at == std::string::npos) return {text, ""};
  return {text.substr(0, at), text.substr(at + 1)};
}

}  // namespace harness
