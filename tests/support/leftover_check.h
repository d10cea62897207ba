// An independent look at what is left on the Docker nodes, for the e2e tests.
//
// Teardown verifies itself with the product's own FindLeftovers; a test that judged
// "nothing left" through the same function would share its blind spots. This checker
// shares no code with harness/runtime or harness/exec: it runs the docker CLI itself
// (`service ls`/`inspect`, `ps -a`, `network ls`, `secret ls`, `config ls`, `volume ls`)
// on every node it is given, reads each object's name and labels, and decides by both
// whether the object belongs to what is looked for. Services, secrets and configs are the
// Swarm's, listed on managers; containers, networks and volumes are each node's own,
// listed on every node. A node of a manager's Swarm that the scan was not given is a
// problem of the scan, as is a listing that fails: neither passes as "nothing left".
//
// Blocking; any test thread.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace harness::testing {

// A Docker daemon to list objects on.
struct DockerNode {
  std::string name;                     // for messages: "local", "node-a"
  std::vector<std::string> host_args;   // global docker options: {} or {"-H", socket}
  bool manager = true;                  // lists the Swarm's services, secrets and configs
};

// This machine's dockerd, as the docker CLI reaches it by default.
DockerNode ThisMachine();

// What makes an object count as found. An object is found when any criterion holds.
struct Ownership {
  // Exact namespaces: a name that is the namespace or starts with "<ns>_", or the label
  // com.docker.stack.namespace or harness.namespace with the namespace as its value.
  std::vector<std::string> namespaces;
  // Every namespace whose name contains this text: in the object's name, or in the value
  // of either namespace label ("gitcanon-" for all of a test's cold and warm namespaces).
  std::vector<std::string> namespace_marks;
  // Exact object names (a shared network such as "proxy").
  std::vector<std::string> names;
  // Labels, "key=value", or "key" for any non-empty value.
  std::vector<std::string> labels;
};

Ownership Namespace(const std::string& ns);

struct FoundObject {
  std::string node;   // DockerNode::name
  std::string kind;   // service, container, network, secret, config, volume
  std::string name;
  std::string state;  // containers: their state ("exited", "removing", ...)
  std::string why;    // which criteria matched: "name", "label harness.namespace=..."
};

// The result of a scan: what was found, and what could not be looked at.
struct LeftoverScan {
  std::vector<FoundObject> objects;
  std::vector<std::string> problems;  // listings that failed, nodes not checked
  std::vector<std::string> nodes;     // the nodes scanned
  std::string looked_for;             // "namespace web-k3x9a2", for messages

  // Nothing found, and every listing answered.
  bool empty() const { return objects.empty() && problems.empty(); }
  // Names of the found objects of `kind` (on any node).
  std::vector<std::string> Names(const std::string& kind) const;
  // One line per object ("node-b: volume web-x_data (name, label ...)") and per problem;
  // "nothing of namespace web-x (looked on local)" when empty.
  std::string ToString() const;
};

// Lists every kind of object on every node and keeps what `what` owns.
LeftoverScan ScanFor(const Ownership& what, const std::vector<DockerNode>& nodes = {ThisMachine()});

// Removes what a scan found, by raw docker commands (services first, then containers,
// then the rest), best effort: a safety net after a test's own checks. Returns what could
// not be removed, one line each.
std::vector<std::string> RemoveFound(const LeftoverScan& scan, const std::vector<DockerNode>& nodes);

// CHECK_THAT(scan, NothingLeft()): on failure Catch prints the scan, object by object.
class NothingLeftMatcher : public Catch::MatcherBase<LeftoverScan> {
 public:
  bool match(const LeftoverScan& scan) const override { return scan.empty(); }
  std::string describe() const override { return "- expected nothing left"; }
};
inline NothingLeftMatcher NothingLeft() { return {}; }

}  // namespace harness::testing

namespace Catch {
template <>
struct StringMaker<harness::testing::LeftoverScan> {
  static std::string convert(const harness::testing::LeftoverScan& scan) { return "\n" + scan.ToString(); }
};
}  // namespace Catch
