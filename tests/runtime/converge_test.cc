// Convergence judging from recorded `docker` output.
#include "runtime/converge.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

namespace harness {
namespace {

// `inspect`: docker service inspect lines in kServiceInspectFormat.
ConvergeSnapshot Parse(const std::string& inspect, const std::string& stack_ps, const std::string& docker_ps) {
  ConvergeSnapshot s;
  REQUIRE(ParseStackPs(stack_ps, &s.tasks).ok());
  ParseServiceInspect(inspect, s.tasks, &s.services);
  REQUIRE(ParseDockerPs(docker_ps, &s.containers).ok());
  return s;
}

const std::vector<std::string> kApp = {"web-k3x9a2_app"};

// Recorded from docker 20.10 on a single-node Swarm.
// Recorded from docker 20.10 on a single-node Swarm.
const char* kService = "web-k3x9a2_app|1|\n";
const char* kPsRunning =
    R"j({"CurrentState":"Running 1 second ago","DesiredState":"Running","Error":"","ID":"lgpv8a4f0jflhu5iy3ebn57ln","Image":"recipe-harness/busybox:1","Name":"web-k3x9a2_app.1","Node":"vm","Ports":""})j";
const char* kPsStarting =
    R"j({"CurrentState":"Starting 1 second ago","DesiredState":"Running","Error":"","ID":"lgpv8a4f0jflhu5iy3ebn57ln","Image":"recipe-harness/busybox:1","Name":"web-k3x9a2_app.1","Node":"vm","Ports":""})j";
const char* kHealthy =
    R"j({"ID":"173c2398952e","Labels":"com.docker.stack.namespace=web-k3x9a2,com.docker.swarm.service.name=web-k3x9a2_app,com.docker.swarm.task=","State":"running","Status":"Up 2 seconds (healthy)"})j";
const char* kHealthStarting =
    R"j({"ID":"173c2398952e","Labels":"com.docker.stack.namespace=web-k3x9a2,com.docker.swarm.service.name=web-k3x9a2_app,com.docker.swarm.task=","State":"running","Status":"Up 1 second (health: starting)"})j";

TEST_CASE("all services N/N and healthy is converged", "[converge]") {
  auto s = Parse(kService, kPsRunning, kHealthy);
  auto j = JudgeConvergence(s, kApp);
  CHECK(j.kind == Judgement::Kind::kConverged);
}

TEST_CASE("a missing service, 0/1, or a starting healthcheck is pending", "[converge]") {
  CHECK(JudgeConvergence(Parse("", "", ""), kApp).kind == Judgement::Kind::kPending);
  CHECK_THAT(JudgeConvergence(Parse("", "", ""), kApp).reason, Catch::Contains("does not exist"));
  auto starting = JudgeConvergence(Parse(kService, kPsStarting, kHealthStarting), kApp);
  CHECK(starting.kind == Judgement::Kind::kPending);
  CHECK_THAT(starting.reason, Catch::Contains("web-k3x9a2_app 0/1"));
  CHECK_THAT(starting.reason, Catch::Contains("container starting"));
  // N/N but a container's healthcheck still starting: not yet.
  auto health = JudgeConvergence(Parse(kService, kPsRunning, kHealthStarting), kApp);
  CHECK(health.kind == Judgement::Kind::kPending);
}

TEST_CASE("a service with replicas: 0 is converged with nothing running; a global one is not", "[converge]") {
  const std::vector<std::string> both = {"web-k3x9a2_app", "web-k3x9a2_cron"};
  auto idle = JudgeConvergence(Parse("web-k3x9a2_app|1|\nweb-k3x9a2_cron|0|\n", kPsRunning, kHealthy), both);
  CHECK(idle.kind == Judgement::Kind::kConverged);
  auto global = JudgeConvergence(Parse("web-k3x9a2_app|1|\nweb-k3x9a2_cron|global|\n", kPsRunning, kHealthy), both);
  CHECK(global.kind == Judgement::Kind::kPending);
  CHECK_THAT(global.reason, Catch::Contains("web-k3x9a2_cron 0/0"));
}

TEST_CASE("an update in progress is pending; a rollback or a pause fails", "[converge]") {
  auto updating = JudgeConvergence(Parse("web-k3x9a2_app|1|updating\n", kPsRunning, kHealthy), kApp);
  CHECK(updating.kind == Judgement::Kind::kPending);
  CHECK_THAT(updating.reason, Catch::Contains("update in progress"));
  auto rolled = JudgeConvergence(Parse("web-k3x9a2_app|1|rollback_completed\n", kPsRunning, kHealthy), kApp);
  CHECK(rolled.kind == Judgement::Kind::kFailed);
  CHECK_THAT(rolled.reason, Catch::Contains("rollback_completed"));
  auto paused = JudgeConvergence(Parse("web-k3x9a2_app|1|paused\n", kPsRunning, kHealthy), kApp);
  CHECK(paused.kind == Judgement::Kind::kFailed);
  auto done = JudgeConvergence(Parse("web-k3x9a2_app|1|completed\n", kPsRunning, kHealthy), kApp);
  CHECK(done.kind == Judgement::Kind::kConverged);
}

TEST_CASE("repeated task failures are a crash loop, with the task error", "[converge]") {
  std::string ps;
  for (int i = 0; i < 3; ++i) {
    ps += std::string(R"j({"CurrentState":"Failed )j") + std::to_string(i * 5 + 1) +
          R"j( seconds ago","DesiredState":"Shutdown","Error":"task: non-zero exit (1)","ID":"t)j" +
          std::to_string(i) + R"j(","Name":"web-k3x9a2_app.1","Node":"vm"})j" + "\n";
  }
  ps += R"j({"CurrentState":"Ready 1 second ago","DesiredState":"Running","Error":"","ID":"t9","Name":"web-k3x9a2_app.1"})j";
  auto j = JudgeConvergence(Parse(kService, ps, ""), kApp);
  CHECK(j.kind == Judgement::Kind::kFailed);
  CHECK_THAT(j.reason, Catch::Contains("crash-looping: 3 tasks failed"));
  CHECK_THAT(j.reason, Catch::Contains("non-zero exit (1)"));
  CHECK(j.evidence.size() == 3);

  // Two failures are not yet a loop: dependencies starting in any order restart a task or two.
  std::string two = ps.substr(ps.find('\n') + 1);
  CHECK(JudgeConvergence(Parse(kService, two, ""), kApp).kind == Judgement::Kind::kPending);
}

TEST_CASE("a service count of N/N with a task that has just crashed is not converged", "[converge]") {
  // service ls read while the task ran; stack ps read after it failed, before its
  // replacement (restart delay) exists.
  const char* ps =
      R"j({"CurrentState":"Failed 1 second ago","DesiredState":"Shutdown","Error":"task: non-zero exit (1)","ID":"t0","Name":"web-k3x9a2_app.1","Node":"vm"})j";
  auto j = JudgeConvergence(Parse(kService, ps, ""), kApp);
  CHECK(j.kind == Judgement::Kind::kPending);
  CHECK_THAT(j.reason, Catch::Contains("web-k3x9a2_app 0/1"));
  // No tasks at all in the snapshot (stack ps not answering yet) is not converged either.
  CHECK(JudgeConvergence(Parse(kService, "", kHealthy), kApp).kind == Judgement::Kind::kPending);
}

TEST_CASE("the running count comes from the tasks, not from service ls, which lags", "[converge]") {
  auto j = JudgeConvergence(Parse(kService, kPsRunning, kHealthy), kApp);
  CHECK(j.kind == Judgement::Kind::kConverged);
}

TEST_CASE("a task Swarm still calls Starting counts as running once its container is healthy", "[converge]") {
  const char* healthy_of_task =
      R"j({"ID":"173c2398952e","Labels":"com.docker.stack.namespace=web-k3x9a2,com.docker.swarm.service.name=web-k3x9a2_app,com.docker.swarm.task.id=lgpv8a4f0jflhu5iy3ebn57ln,com.docker.swarm.task=","State":"running","Status":"Up 2 seconds (healthy)"})j";
  auto s = Parse(kService, kPsStarting, healthy_of_task);
  REQUIRE(s.containers.size() == 1);
  CHECK(s.containers[0].task_id == "lgpv8a4f0jflhu5iy3ebn57ln");
  CHECK(s.containers[0].service == "web-k3x9a2_app");
  CHECK(JudgeConvergence(s, kApp).kind == Judgement::Kind::kConverged);
  // Still starting, or healthy but another task's container: not yet.
  const char* starting_of_task =
      R"j({"ID":"173c2398952e","Labels":"com.docker.swarm.service.name=web-k3x9a2_app,com.docker.swarm.task.id=lgpv8a4f0jflhu5iy3ebn57ln","State":"running","Status":"Up 1 second (health: starting)"})j";
  CHECK(JudgeConvergence(Parse(kService, kPsStarting, starting_of_task), kApp).kind == Judgement::Kind::kPending);
  CHECK(JudgeConvergence(Parse(kService, kPsStarting, kHealthy), kApp).kind == Judgement::Kind::kPending);
}

TEST_CASE("a rejected task fails at once", "[converge]") {
  const char* ps =
      R"j({"CurrentState":"Rejected 1 second ago","DesiredState":"Shutdown","Error":"No such image: nope:1","ID":"t1","Name":"web-k3x9a2_app.1"})j";
  auto j = JudgeConvergence(Parse(kService, ps, ""), kApp);
  CHECK(j.kind == Judgement::Kind::kFailed);
  CHECK_THAT(j.reason, Catch::Contains("No such image: nope:1"));
}

TEST_CASE("a task without a healthcheck must stay up for the settle time", "[converge]") {
  const char* no_health =
      R"j({"ID":"173c2398952e","Labels":"com.docker.swarm.service.name=web-k3x9a2_app","State":"running","Status":"Up 1 second"})j";
  auto snap = Parse(kService, kPsRunning, no_health);
  const std::string task = "lgpv8a4f0jflhu5iy3ebn57ln";
  auto young = JudgeConvergence(snap, kApp, {{task, Duration(500)}}, Duration(3000));
  CHECK(young.kind == Judgement::Kind::kPending);
  CHECK_THAT(young.reason, Catch::Contains("settling (up 500ms of 3.0s)"));
  auto unseen = JudgeConvergence(snap, kApp, {}, Duration(3000));
  CHECK(unseen.kind == Judgement::Kind::kPending);
  auto settled = JudgeConvergence(snap, kApp, {{task, Duration(3000)}}, Duration(3000));
  CHECK(settled.kind == Judgement::Kind::kConverged);
  // A healthy healthcheck is proof enough: no settle time.
  auto healthy = JudgeConvergence(Parse(kService, kPsRunning, kHealthy), kApp, {}, Duration(3000));
  CHECK(healthy.kind == Judgement::Kind::kConverged);
}

TEST_CASE("service inspect gives desired counts and update states; a global service's from its tasks", "[converge]") {
  std::vector<TaskState> tasks;
  REQUIRE(ParseStackPs(
              R"j({"CurrentState":"Running 2 seconds ago","DesiredState":"Running","Error":"","ID":"a1","Name":"web-k3x9a2_agent.s7e8ap05z2i1"}
{"CurrentState":"Running 2 seconds ago","DesiredState":"Running","Error":"","ID":"a2","Name":"web-k3x9a2_agent.x1y2z3"}
{"CurrentState":"Shutdown 9 seconds ago","DesiredState":"Shutdown","Error":"","ID":"a0","Name":"web-k3x9a2_agent.x1y2z3"})j",
              &tasks)
              .ok());
  std::vector<ServiceState> services;
  ParseServiceInspect("web-k3x9a2_app|2|updating\nweb-k3x9a2_agent|global|\nnot a line\n", tasks, &services);
  REQUIRE(services.size() == 2);
  CHECK(services[0].name == "web-k3x9a2_app");
  CHECK(services[0].desired == 2);
  CHECK(services[0].update_state == "updating");
  CHECK(services[1].name == "web-k3x9a2_agent");
  CHECK(services[1].desired == 2);
  CHECK(services[1].update_state.empty());
  ConvergeSnapshot snap;
  snap.services = services;
  snap.tasks = tasks;
  auto j = JudgeConvergence(snap, {"web-k3x9a2_app", "web-k3x9a2_agent"});
  CHECK(j.kind == Judgement::Kind::kPending);
  CHECK_THAT(j.reason, Catch::Contains("web-k3x9a2_app 0/2"));
  CHECK_THAT(j.reason, Catch::Contains("update in progress"));
  CHECK_THAT(j.reason, !Catch::Contains("agent"));
}

std::string Recorded(const std::string& name) {
  std::ifstream f(std::string(HARNESS_SOURCE_DIR) + "/tests/runtime/recorded/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_CASE("the Engine API's services, tasks and containers make the same snapshot as the CLI's", "[converge]") {
  // Recorded from docker 20.10: the pass fixture deployed as stack capi17111, healthy.
  ConvergeSnapshot snap;
  REQUIRE(ParseApiSnapshot(Recorded("api-services.json"), Recorded("api-tasks.json"),
                           Recorded("api-containers.json"), &snap)
              .ok());
  REQUIRE(snap.services.size() == 1);
  CHECK(snap.services[0].name == "capi17111_app");
  CHECK(snap.services[0].desired == 1);
  CHECK(snap.services[0].update_state.empty());
  REQUIRE(snap.tasks.size() == 1);
  CHECK(snap.tasks[0].id == "y0ae8z87vyg3dvz52bdp1yn92");
  CHECK(snap.tasks[0].service == "capi17111_app");
  CHECK(snap.tasks[0].name == "capi17111_app.1");
  CHECK(snap.tasks[0].desired_state == "Running");
  CHECK(snap.tasks[0].current_state == "Running");
  REQUIRE(snap.containers.size() == 1);
  CHECK(snap.containers[0].service == "capi17111_app");
  CHECK(snap.containers[0].task_id == "y0ae8z87vyg3dvz52bdp1yn92");
  CHECK(HealthOf(snap.containers[0].status) == "healthy");
  CHECK(JudgeConvergence(snap, {"capi17111_app"}).kind == Judgement::Kind::kConverged);
  CHECK(JudgeConvergence(snap, {"capi17111_app", "capi17111_db"}).kind == Judgement::Kind::kPending);
}

TEST_CASE("Engine API tasks: failures, global services and unreadable answers", "[converge]") {
  const std::string services =
      R"j([{"ID":"s1","Spec":{"Name":"ns_app","Mode":{"Replicated":{"Replicas":1}}},"UpdateStatus":{"State":"rollback_completed"}},
          {"ID":"s2","Spec":{"Name":"ns_agent","Mode":{"Global":{}}}}])j";
  const std::string tasks =
      R"j([{"ID":"t1","ServiceID":"s1","Slot":1,"DesiredState":"shutdown","Status":{"State":"failed","Err":"task: non-zero exit (1)"}},
          {"ID":"t2","ServiceID":"s2","NodeID":"n1","DesiredState":"running","Status":{"State":"running"}}])j";
  ConvergeSnapshot snap;
  REQUIRE(ParseApiSnapshot(services, tasks, "[]", &snap).ok());
  CHECK(snap.services[0].update_state == "rollback_completed");
  CHECK(snap.services[1].desired == 1);
  CHECK(snap.tasks[0].current_state == "Failed");
  CHECK(snap.tasks[0].error == "task: non-zero exit (1)");
  CHECK(snap.tasks[1].name == "ns_agent.n1");
  auto j = JudgeConvergence(snap, {"ns_app", "ns_agent"});
  CHECK(j.kind == Judgement::Kind::kFailed);
  CHECK_THAT(j.reason, Catch::Contains("rollback_completed"));
  ConvergeSnapshot bad;
  CHECK(ParseApiSnapshot("{\"message\":\"no\"}", "[]", "[]", &bad).code() == Status::Code::kInfra);
}

TEST_CASE("health is read from docker ps status", "[converge]") {
  CHECK(HealthOf("Up 2 seconds (healthy)") == "healthy");
  CHECK(HealthOf("Up 9 seconds (unhealthy)") == "unhealthy");
  CHECK(HealthOf("Up 1 second (health: starting)") == "starting");
  CHECK(HealthOf("Up 3 minutes") == "");
}

TEST_CASE("unreadable docker output is an infrastructure error", "[converge]") {
  std::vector<TaskState> t;
  CHECK(ParseStackPs("{not json\n", &t).code() == Status::Code::kInfra);
  std::vector<ContainerState> c;
  CHECK(ParseDockerPs("{not json\n", &c).code() == Status::Code::kInfra);
}

}  // namespace
}  // namespace harness
