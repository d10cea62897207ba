#include "recipe/compose_tree.h"

#include <yaml-cpp/eventhandler.h>

#include <set>
#include <sstream>
#include <vector>

#include "base/files.h"
#include "runtime/compose.h"

namespace harness {

namespace {

// A plain `<<` key (or one tagged !!merge) merges; a quoted "<<" is an ordinary key.
bool IsMergeKey(const YAML::Node& key) {
  return (key.Scalar() == "<<" && key.Tag() == "?") || key.Tag() == "tag:yaml.org,2002:merge";
}

class Resolver {
 public:
  Resolver(const std::string& name, const std::map<std::string, std::string>& env)
      : name_(name), env_(env) {}

  Result<YAML::Node> Resolve(const YAML::Node& in, int depth) {
    if (depth > kComposeTreeMaxDepth) {
      return Fail(in, "nested deeper than " + std::to_string(kComposeTreeMaxDepth) +
                          " levels (an alias inside itself?)");
    }
    if (++nodes_ > kComposeTreeMaxNodes) {
      return Fail(in, "more than " + std::to_string(kComposeTreeMaxNodes) +
                          " values once anchors and merges are expanded");
    }
    switch (in.Type()) {
      case YAML::NodeType::Scalar: {
        auto value = InterpolateAtMost(in.Scalar(), env_, kComposeTreeMaxBytes - bytes_);
        if (!value || !Count(value->size())) return TooMuchText(in);
        return YAML::Node(*value);
      }
      case YAML::NodeType::Sequence: {
        YAML::Node out(YAML::NodeType::Sequence);
        for (const auto& item : in) {
          auto r = Resolve(item, depth + 1);
          if (!r.ok()) return r;
          out.push_back(*r);
        }
        return out;
      }
      case YAML::NodeType::Map:
        return ResolveMap(in, depth);
      default:
        return YAML::Node(YAML::NodeType::Null);
    }
  }

 private:
  Status Fail(const YAML::Node& at, const std::string& why) const {
    int line = at.Mark().line;
    return Status::InvalidArgument(name_ + (line >= 0 ? ":" + std::to_string(line + 1) : "") + ": " + why);
  }
  Status TooMuchText(const YAML::Node& at) const {
    return Fail(at, "more than " + std::to_string(kComposeTreeMaxBytes >> 20) +
                        " MiB of text once anchors, merges and variables are expanded");
  }
  // Adds `n` bytes to the tree's text; false beyond the limit.
  bool Count(size_t n) {
    bytes_ += n;
    return bytes_ <= kComposeTreeMaxBytes;
  }

  Result<YAML::Node> ResolveMap(const YAML::Node& in, int depth) {
    // force_insert: yaml-cpp's lookup by key is linear, and `seen` already keeps keys unique.
    YAML::Node out(YAML::NodeType::Map);
    std::set<std::string> seen;
    YAML::Node merge;  // a handle to the merged value, not a copy
    bool merges = false;
    for (const auto& it : in) {
      const YAML::Node& key = it.first;
      if (!key.IsScalar()) return Fail(key, "a mapping key that is not a plain value");
      if (IsMergeKey(key)) {
        if (merges) return Fail(key, "'<<' appears twice in one mapping");
        merges = true;
        merge = it.second;
        continue;
      }
      if (!seen.insert(key.Scalar()).second) {
        return Fail(key, "'" + key.Scalar() + "' appears twice in one mapping");
      }
      if (!Count(key.Scalar().size())) return TooMuchText(key);
      auto value = Resolve(it.second, depth + 1);
      if (!value.ok()) return value;
      out.force_insert(key.Scalar(), *value);
    }
    if (!merges) return out;
    // `<<: *a` or `<<: [*a, *b]`: the mapping's own keys win, then earlier sources.
    std::vector<YAML::Node> sources;
    if (merge.IsSequence()) {
      for (const auto& s : merge) sources.push_back(s);
    } else {
      sources.push_back(merge);
    }
    for (const auto& source : sources) {
      if (!source.IsMap()) return Fail(source, "'<<' merges something that is not a mapping");
      auto resolved = Resolve(source, depth + 1);
      if (!resolved.ok()) return resolved;
      for (const auto& kv : *resolved) {
        if (!seen.insert(kv.first.Scalar()).second) continue;
        if (!Count(kv.first.Scalar().size())) return TooMuchText(source);
        out.force_insert(kv.first.Scalar(), kv.second);
      }
    }
    return out;
  }

  const std::string& name_;
  const std::map<std::string, std::string>& env_;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
};

// Ignores what the parser reports: for counting documents.
class NoEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Whether a second document follows the first (an empty one too, as yaml-cpp's LoadAll
// counts them). LoadAll itself is not used: on some malformed text ("[a !b !c, ,d]\n, ,d]")
// yaml-cpp's parser yields empty documents without end, so only two are ever asked for.
bool HasSecondDocument(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  NoEvents ignored;
  return parser.HandleNextDocument(ignored) && parser.HandleNextDocument(ignored);
}

}  // namespace

Result<YAML::Node> ParseComposeTree(const std::string& text, const std::string& name,
                                    const std::map<std::string, std::string>& env) {
  YAML::Node doc;
  bool more = false;
  try {
    doc = YAML::Load(text);
    more = HasSecondDocument(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  // Parsers disagree on which document of several is the compose file.
  if (more) return Status::InvalidArgument(name + ": more than one YAML document");
  if (!doc.IsMap()) return Status::InvalidArgument(name + ": not a compose file (no mapping)");
  try {
    return Resolver(name, env).Resolve(doc, 0);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ": " + e.what());
  }
}

Result<YAML::Node> LoadComposeTree(const std::string& path, const std::string& name,
                                   const std::map<std::string, std::string>& env) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status::InvalidArgument(name + ": cannot be read: " + text.status().message());
  return ParseComposeTree(*text, name, env);
}

}  // namespace harness
