// Host paths as a compose file names them, judged without touching the host they name.
//
// A bind mount's source is a path on the Swarm node that runs the task, which may not be
// this machine: it is judged lexically (`//var/run/../run/docker.sock` is
// `/var/run/docker.sock`), never by looking at this machine's file system. A file the
// recipe asks to be read here (a config's or secret's `file:`, `env_file`, `extends`) is
// judged by where it really is on this machine: `..` and symbolic links are followed, so
// a link inside the recipe pointing elsewhere resolves to elsewhere.
//
// Plain functions on values; ResolveHere reads file metadata (lstat, readlink) and never
// writes. Any thread.
#pragma once

#include <string>

namespace harness {

// `path` with `.`, `..` and repeated or trailing slashes removed, lexically: an absolute
// path stays absolute (`/..` is `/`); a relative one keeps the `..` that climb above its
// start ("a/../../b" is "../b"); "" and "." become ".".
std::string LexicalPath(const std::string& path);

// Whether a bind of host path `path` (REQUIRES: LexicalPath of an absolute path) exposes
// the Docker daemon's socket: the socket itself (`/var/run/docker.sock`,
// `/run/docker.sock`, a rootless daemon's `/run/user/<uid>/docker.sock`, any file named
// `docker.sock`), any folder above one of them (`/`, `/var`, `/run`, `/var/run`,
// `/run/user/<uid>`), or anything under `/proc` (a process's `root` there is the host's
// whole file system).
bool ReachesDockerSocket(const std::string& path);

// Whether `rel` (LexicalPath of a relative path) climbs out of the folder it starts in
// ("../x", ".."). When that folder is one we cannot see (a bind's base on the node, `~`),
// such a path may land anywhere, the Docker socket included.
bool ClimbsOut(const std::string& rel);

// Where `path` really is on this machine: relative paths start at `base` (absolute), and
// every symbolic link on the way is followed (a dangling one to where it points); parts
// that do not exist are taken lexically. "" when the links loop or one cannot be read.
std::string ResolveHere(const std::string& base, const std::string& path);

// Whether `path` (absolute, lexical) is `folder` or lies below it.
bool IsWithin(const std::string& path, const std::string& folder);

}  // namespace harness
