// Failure fingerprints: what makes two failures of a recipe "the same failure".
//
// A fingerprint is the failing phase, the failing test or step, and the error text with
// everything that differs from run to run replaced by a placeholder: the run's own names
// (given), anything shaped like a run id (`20261126T052500-web-k3x9a2` → <run>) or a run
// namespace (`web-k3x9a2`, a name ending in six letters and digits with a digit among
// them → <ns>), timestamps (<time>), IP addresses with their ports (<addr>), durations
// (`9.0s`, `1m30s` → <dur>), hex ids and UUIDs (<hex>) and every other number (<n>). Two
// failures with the same fingerprint failed in the same place with the same message.
//
// Thread-safety: pure functions of their arguments; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace harness {

struct Fingerprint {
  // "test | health endpoint answers | recipes/broken/recipe.lua:<n>: status of
  // /api/health: expected <n>, got <n>"
  std::string key;
  // "fp-" and 8 hex digits of a hash of `key`: short, and the same on every machine.
  std::string id;
};

// `text` with its run-specific parts replaced (see above), whitespace runs made one space,
// at most 300 characters. `run_names` are this run's own namespaces and run ids, replaced
// first and exactly (run ids by <run>, other names by <ns>), whatever their shape.
std::string NormalizeError(std::string_view text, const std::vector<std::string>& run_names = {});

// The fingerprint of a failure in `phase` ("deploy", "converge", "test", ...) at `step`
// (the failing test's name; "" for a phase without steps) with the error `error`.
Fingerprint MakeFingerprint(std::string_view phase, std::string_view step, std::string_view error,
                            const std::vector<std::string>& run_names = {});

// The id of a fingerprint key (see Fingerprint::id).
std::string FingerprintId(std::string_view key);

}  // namespace harness
