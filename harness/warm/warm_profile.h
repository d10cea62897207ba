// The warm canon's deploy profile: a promotion's deploy into the recipe's long-lived warm
// namespace (see run/deploy_profile.h for what a profile decides).
//
//   where      the warm namespace and domain the promotion chose (warm/collision.h)
//   labels     harness.warm=<recipe>, so reapers and `promote --retire` know it
//   secrets    kept between promotions in a JSON file (name → value) readable by this
//              user only (0600); a value that is not a string is not kept
//   lifetime   stays: no teardown (a failed deploy is the promotion's to restore or
//              remove), existing secrets reused, shared-network services renamed
//   version    the release being promoted; every service's version label must reach it
//
// Thread-safety: as DeployProfile. The secrets file is the promotion's; the recipe's warm
// lock (warm/promote.h) keeps a second writer away.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "run/deploy_profile.h"

namespace harness {

struct WarmSite {
  std::string namespace_name;
  std::string domain;
  std::string secrets_file;    // the kept secret values
  std::string expect_version;  // "" no version wait
};

std::shared_ptr<const DeployProfile> WarmProfile(const std::string& recipe, WarmSite site);

}  // namespace harness
