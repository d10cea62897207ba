// Which lines of Docker's event stream concern a namespace (recorded from docker 20.10).
#include "runtime/event_watch.h"

#include <catch2/catch.hpp>

namespace harness {
namespace {

const char* kHealthy =
    R"j({"status":"health_status: healthy","id":"1b0c","from":"recipe-harness/busybox:1","Type":"container","Action":"health_status: healthy","Actor":{"ID":"1b0c","Attributes":{"com.docker.stack.namespace":"pass-59gqxx","com.docker.swarm.service.name":"pass-59gqxx_app","image":"recipe-harness/busybox:1","name":"pass-59gqxx_app.1.yc1z"}},"scope":"local","time":1795717039,"timeNano":1795717039692000000})j";
const char* kExec =
    R"j({"status":"exec_start: wget -q -O- http://127.0.0.1:8080/","id":"1b0c","Type":"container","Action":"exec_start: wget -q -O- http://127.0.0.1:8080/","Actor":{"ID":"1b0c","Attributes":{"com.docker.stack.namespace":"pass-59gqxx","name":"pass-59gqxx_app.1.yc1z"}},"scope":"local","time":1795717039,"timeNano":1795717039000000000})j";
const char* kServiceRemove =
    R"j({"Type":"service","Action":"remove","Actor":{"ID":"n9wp","Attributes":{"name":"pass-59gqxx_app"}},"scope":"swarm","time":1795717040,"timeNano":1795717040034000000})j";
const char* kNetworkDestroy =
    R"j({"Type":"network","Action":"destroy","Actor":{"ID":"ph7c","Attributes":{"name":"pass-59gqxx_default","type":"overlay"}},"scope":"local","time":1795717043,"timeNano":1795717043291000000})j";

TEST_CASE("event lines of the namespace's containers, services and networks concern it", "[event-watch]") {
  CHECK(EventWatch::Concerns(kHealthy, "pass-59gqxx"));
  CHECK(EventWatch::Concerns(kServiceRemove, "pass-59gqxx"));
  CHECK(EventWatch::Concerns(kNetworkDestroy, "pass-59gqxx"));
}

TEST_CASE("healthcheck executions, other namespaces and unreadable lines do not", "[event-watch]") {
  CHECK_FALSE(EventWatch::Concerns(kExec, "pass-59gqxx"));
  CHECK_FALSE(EventWatch::Concerns(kHealthy, "pass-59gqx"));       // a prefix of the name is another namespace
  CHECK_FALSE(EventWatch::Concerns(kServiceRemove, "pass"));         // "pass_..." would be; "pass-59gqxx_app" is not
  CHECK_FALSE(EventWatch::Concerns(kNetworkDestroy, "other-1a2b3c"));
  CHECK_FALSE(EventWatch::Concerns("not json", "pass-59gqxx"));
  CHECK_FALSE(EventWatch::Concerns(R"j({"Type":"container","Action":"start"})j", "pass-59gqxx"));
}

}  // namespace
}  // namespace harness
