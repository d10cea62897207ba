// ProxyAmong: the Swarm's proxy among its services, as Docker describes them.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/swarm.h"

namespace harness {
namespace {

nlohmann::json Service(const std::string& name, const std::string& network, nlohmann::json ports) {
  return {{"Spec", {{"Name", name}, {"TaskTemplate", {{"Networks", {{{"Target", network}}}}}}}},
          {"Endpoint", {{"Ports", ports}}}};
}

}  // namespace

TEST_CASE("the proxy is the service on the proxy network that publishes 443", "[runtime]") {
  const nlohmann::json https = {{"Protocol", "tcp"}, {"TargetPort", 443}, {"PublishedPort", 8443}};
  const nlohmann::json http = {{"Protocol", "tcp"}, {"TargetPort", 80}, {"PublishedPort", 8080}};
  nlohmann::json services = nlohmann::json::array({
      Service("web_app", "net-proxy-id", nlohmann::json::array()),             // joins, publishes nothing
      Service("other_traefik", "net-other", nlohmann::json::array({https})),  // publishes, elsewhere
      Service("proxy_traefik", "net-proxy-id", nlohmann::json::array({http, https})),
  });
  auto found = ProxyAmong(services, "net-proxy-id");
  REQUIRE(found.has_value());
  CHECK(found->service == "proxy_traefik");
  CHECK(found->https_port == 8443);
  CHECK(found->http_port == 8080);
  // Only 443: no http entry.
  auto only = ProxyAmong(nlohmann::json::array({Service("p_t", "proxy", nlohmann::json::array({https}))}), "x");
  REQUIRE(only.has_value());
  CHECK(only->http_port == 0);
  CHECK_FALSE(ProxyAmong(nlohmann::json::array({services[0], services[1]}), "net-proxy-id").has_value());
}

TEST_CASE("services of an unexpected shape are passed over, never thrown on", "[runtime]") {
  nlohmann::json odd = nlohmann::json::array({
      42, "text", nullptr, nlohmann::json::object(),
      {{"Spec", "x"}},
      {{"Spec", {{"TaskTemplate", {{"Networks", "x"}}}}}},
      {{"Spec", {{"Name", 7}, {"TaskTemplate", {{"Networks", {1, {{"Target", 2}}}}}}}},
       {"Endpoint", {{"Ports", {"x", {{"TargetPort", "443"}, {"PublishedPort", 1}}, {{"TargetPort", 443}, {"PublishedPort", -1}},
                                {{"TargetPort", 443}, {"PublishedPort", 70000}}, {{"Protocol", "udp"}, {"TargetPort", 443}, {"PublishedPort", 4}}}}}}},
      {{"Spec", {{"TaskTemplate", {{"Networks", {{{"Target", "proxy"}}}}}}}},
       {"Endpoint", {{"Ports", {{{"TargetPort", 443}, {"PublishedPort", 443}}}}}}},
  });
  std::optional<Runtime::ProxyEntry> found;
  REQUIRE_NOTHROW(found = ProxyAmong(odd, "id"));
  REQUIRE(found.has_value());  // the last one: no name, but it joins "proxy" and publishes 443
  CHECK(found->service.empty());
  CHECK(found->https_port == 443);
  CHECK_FALSE(ProxyAmong(nlohmann::json::object(), "id").has_value());
  CHECK_FALSE(ProxyAmong("[]", "id").has_value());
}

}  // namespace harness
