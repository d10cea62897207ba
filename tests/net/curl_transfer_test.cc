#include "net/curl_transfer.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace harness {
namespace {

// A loopback server with a few routes, listening on a free port until destroyed.
class Server {
 public:
  Server() {
    http_.Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Total-Count", "42");
      res.set_content("hello " + req.get_header_value("X-Who"), "text/plain");
    });
    http_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_content(req.method + ":" + req.body, "text/plain");
    });
    http_.Get("/moved", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/hello", 303); });
    http_.Get("/slow", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(20), [this] { return released_; });
      res.set_content("late", "text/plain");
    });
    port_ = http_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { http_.listen_after_bind(); });
  }
  ~Server() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
    http_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  httplib::Server http_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int port_ = 0;
};

TEST_CASE("a transfer returns status, lower-cased headers and the body", "[net]") {
  Server server;
  CurlTransfer t;
  TransferRequest req;
  req.url = server.url("/hello");
  req.headers = {"X-Who: world"};
  req.timeout = Duration(10000);
  TransferResponse resp;
  REQUIRE(t.Perform(req, &resp).ok());
  CHECK(resp.status == 200);
  CHECK(resp.body == "hello world");
  CHECK(resp.sent);
  bool found = false;
  for (const auto& [name, value] : resp.headers) found = found || (name == "x-total-count" && value == "42");
  CHECK(found);

  req.max_body = 5;  // the rest is read and dropped
  REQUIRE(t.Perform(req, &resp).ok());
  CHECK(resp.body == "hello");
}

TEST_CASE("a transfer sends the method and body, and follows no redirect", "[net]") {
  Server server;
  CurlTransfer t;
  TransferRequest req;
  req.method = "POST";
  req.url = server.url("/echo");
  req.body = "{\"a\":1}";
  req.send_body = true;
  req.timeout = Duration(10000);
  TransferResponse resp;
  REQUIRE(t.Perform(req, &resp).ok());
  CHECK(resp.status == 201);
  CHECK(resp.body == "POST:{\"a\":1}");

  TransferRequest moved;
  moved.url = server.url("/moved");
  moved.timeout = Duration(10000);
  REQUIRE(t.Perform(moved, &resp).ok());
  CHECK(resp.status == 303);
}

TEST_CASE("a transfer fails as a timeout, a cancellation or a refusal", "[net]") {
  Server server;
  CurlTransfer t;
  TransferResponse resp;

  TransferRequest slow;
  slow.url = server.url("/slow");
  slow.timeout = Duration(300);
  Status s = t.Perform(slow, &resp);
  CHECK(s.code() == Status::Code::kTimeout);
  CHECK(s.message() == "no answer within 300ms");

  CancelSource source;
  source.Cancel();
  slow.timeout = Duration(20000);
  slow.cancel = &source.token();
  CHECK(t.Perform(slow, &resp).code() == Status::Code::kCancelled);

  TransferRequest refused;
  refused.url = "http://127.0.0.1:1/";  // nothing listens on port 1
  refused.timeout = Duration(5000);
  Status r = t.Perform(refused, &resp);
  CHECK(r.code() == Status::Code::kFailed);
  CHECK_FALSE(r.message().empty());
  CHECK_FALSE(resp.sent);
}

}  // namespace
}  // namespace harness
