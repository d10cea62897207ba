// A compose file as a deploy reads it, for judging what it asks: YAML parsed (aliases
// resolved by yaml-cpp), every `<<:` merge applied as YAML's merge key defines it (the
// mapping's own keys win, then the merged mappings in order), and every scalar value
// interpolated with the run's environment (`Interpolate`, as staging does; keys are not
// interpolated, as in `docker stack deploy`).
//
// A mapping that names a key twice is refused: YAML parsers disagree on which one wins,
// so neither can be judged. Anchors can multiply a small file into a huge tree (and an
// alias can contain itself), and a variable named many times can multiply a small value;
// the tree is bounded in values, text and depth, and refused beyond.
//
// Returns a fresh tree the caller owns; reads the one file. Any thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "base/status.h"

namespace harness {

// The limits of a resolved tree: nodes after expanding anchors and merges, the bytes of
// its keys and values after interpolation too, and nesting.
inline constexpr size_t kComposeTreeMaxNodes = 200000;
inline constexpr size_t kComposeTreeMaxBytes = 16 << 20;
inline constexpr int kComposeTreeMaxDepth = 64;

// The file at `path`, resolved. `name` is how messages name it ("compose.db.yml").
// InvalidArgument naming `name` (and the line, where the parser gives one) when the file
// cannot be read, is not YAML, is not a mapping at the top, repeats a key, merges
// something other than mappings, or exceeds the limits.
Result<YAML::Node> LoadComposeTree(const std::string& path, const std::string& name,
                                   const std::map<std::string, std::string>& env);

// The same for YAML text already read (tests, fuzzing).
Result<YAML::Node> ParseComposeTree(const std::string& text, const std::string& name,
                                    const std::map<std::string, std::string>& env);

}  // namespace harness
