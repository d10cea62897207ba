#include "net/curl_transfer.h"

#include <httplib.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <string_view>
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
    // A stream: "first\n" at once, "second\n" once the client said it has the first
    // (Ack), then the end.
    http_.Get("/stream", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [this](size_t offset, httplib::DataSink& sink) {
        if (offset == 0) return sink.write("first\n", 6);
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::seconds(20), [this] { return acked_ || released_; });
        if (!sink.write("second\n", 7)) return false;
        sink.done();
        return true;
      });
    });
    // A stream that sends one line and then nothing until the server goes.
    http_.Get("/endless", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [this](size_t offset, httplib::DataSink& sink) {
        if (offset == 0) return sink.write("line\n", 5);
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return released_; });
        sink.done();
        return true;
      });
    });
    http_.Get("/port", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.remote_port), "text/plain");
    });
    http_.Get("/refused", [](const httplib::Request&, httplib::Response& res) {
      res.status = 400;
      res.set_content("{\"message\":\"bad filter\"}", "application/json");
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
  // Lets /stream send its second line.
  void Ack() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      acked_ = true;
    }
    cv_.notify_all();
  }

 private:
  httplib::Server http_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  bool acked_ = false;
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

TEST_CASE("one transfer keeps its connection between exchanges", "[net]") {
  Server server;
  CurlTransfer t;
  TransferRequest req;
  req.url = server.url("/port");
  req.timeout = Duration(10000);
  TransferResponse first, second;
  REQUIRE(t.Perform(req, &first).ok());
  REQUIRE(t.Perform(req, &second).ok());
  CHECK_FALSE(first.body.empty());
  CHECK(first.body == second.body);  // the same client port: the same connection
}

TEST_CASE("a streamed body is handed over as it arrives and not kept", "[net]") {
  Server server;
  CurlTransfer t;
  TransferRequest req;
  req.url = server.url("/stream");
  std::string got;
  // The server sends its second line only after the first has reached this callback.
  req.on_body = [&](std::string_view data) {
    got.append(data);
    if (got == "first\n") server.Ack();
    return true;
  };
  TransferResponse resp;
  REQUIRE(t.Perform(req, &resp).ok());
  CHECK(resp.status == 200);
  CHECK(got == "first\nsecond\n");
  CHECK(resp.body.empty());

  // Another status's body is kept as usual, not handed over.
  TransferRequest refused = req;
  refused.url = server.url("/refused");
  got.clear();
  REQUIRE(t.Perform(refused, &resp).ok());
  CHECK(resp.status == 400);
  CHECK(resp.body == "{\"message\":\"bad filter\"}");
  CHECK(got.empty());

  // The handle serves plain exchanges after a stream.
  TransferRequest hello;
  hello.url = server.url("/hello");
  hello.headers = {"X-Who: again"};
  hello.timeout = Duration(10000);
  REQUIRE(t.Perform(hello, &resp).ok());
  CHECK(resp.body == "hello again");
}

TEST_CASE("a stream ends when its callback says so", "[net]") {
  Server server;
  CurlTransfer t;
  TransferRequest req;
  req.url = server.url("/endless");
  int calls = 0;
  req.on_body = [&](std::string_view data) {
    ++calls;
    CHECK(data == "line\n");
    return false;
  };
  TransferResponse resp;
  REQUIRE(t.Perform(req, &resp).ok());
  CHECK(calls == 1);
  CHECK(resp.status == 200);
}

TEST_CASE("a cancellation ends a stream that waits for data promptly", "[net]") {
  Server server;
  CurlTransfer t;
  CancelSource source;
  TransferRequest req;
  req.url = server.url("/endless");
  req.cancel = &source.token();
  std::mutex mu;
  std::condition_variable cv;
  bool first = false;
  req.on_body = [&](std::string_view) {
    {
      std::lock_guard<std::mutex> lock(mu);
      first = true;
    }
    cv.notify_all();
    return true;
  };
  Clock::time_point cancelled_at;
  std::thread canceller([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return first; });
    cancelled_at = Clock::now();
    source.Cancel();
  });
  TransferResponse resp;
  Status s = t.Perform(req, &resp);
  auto ended_at = Clock::now();
  canceller.join();
  CHECK(s.code() == Status::Code::kCancelled);
  CHECK(ended_at - cancelled_at < std::chrono::milliseconds(500));
}

}  // namespace
}  // namespace harness
