// Images of a run: references, pull policies, and what a failed pull means.
//
// Before a deploy, every image the staged compose names is made available: present on the
// target's node or pulled by Docker from its registry (Docker's own credentials), then
// pinned to the digest the registry gave, so that every node and an upgrade's second
// deploy run the same image even when the tag moves meanwhile. A locally built image that
// no registry has stays as it is named and is copied to the other nodes.
//
// Pure functions; SwarmRuntime::EnsureImages does the Docker part. Any thread.
#pragma once

#include <string>
#include <vector>

#include "base/deadline.h"
#include "base/status.h"

namespace harness {

// What an image reference names: "127.0.0.1:5000/app/web:1.2" → registry "127.0.0.1:5000",
// repository "app/web", tag "1.2". Docker Hub's images: registry "docker.io", a one-part
// repository under "library/"; a missing tag is "latest" (unless a digest is given).
struct ImageRef {
  std::string registry;
  std::string repository;
  std::string tag;
  std::string digest;  // "sha256:…" when the reference carries one
  // The name Docker lists in RepoDigests: "postgres", "gitea/gitea", "127.0.0.1:5000/app/web".
  std::string Name() const;
};
ImageRef ParseImageRef(const std::string& image);

// As compose's pull_policy: `missing` pulls what the node lacks (the default), `always`
// pulls every image, `never` uses only what is on the node.
enum class PullPolicy { kMissing, kAlways, kNever };
Result<PullPolicy> ParsePullPolicy(const std::string& text);
const char* PullPolicyName(PullPolicy p);

// What EnsureImages did for one image of the compose.
struct ImageReport {
  std::string image;     // as the compose names it
  std::string pinned;    // what is deployed: "<image>@sha256:…", or `image` for a local-only one
  std::string digest;    // the registry's digest; "" for an image no registry gave
  std::string source;    // "present" (on the node already), "pulled", "local-only"
  Duration pull_time{0};
};

// The digest of `image` among an image's RepoDigests ("name@sha256:…" entries); "" when
// none is of its repository (an image built or loaded here).
std::string DigestFor(const std::string& image, const std::vector<std::string>& repo_digests);

// The run's reference for an image pulled at `digest`: "name:tag@sha256:…".
std::string PinnedReference(const std::string& image, const std::string& digest);

// A failed `docker pull`, classified: a tag or repository the registry does not have is
// the recipe's failure (Failed); a timeout, a 5xx or a 429 is a transient infrastructure
// failure, which the library's default transient class "image-pull" retries once; anything
// else (the registry unreachable, refused credentials) is Infra. Each names the image,
// its registry and Docker's reason.
Status PullFailure(const std::string& image, const std::string& docker_error, bool timed_out, Duration budget);

}  // namespace harness
