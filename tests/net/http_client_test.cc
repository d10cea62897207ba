// The HTTP client's https by name (requests through a proxy): SNI and Host are the URL's
// name, the connection goes to `connect`, and the certificate is verified against the CA
// named; one that does not verify names what the server offered. Against a real TLS server
// on loopback (cpp-httplib with OpenSSL) whose certificates the openssl command line makes.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/temp_dir.h"
#include "exec/local_executor.h"
#include "net/http.h"

namespace harness {
namespace {

void OpenSsl(const std::vector<std::string>& args) {
  LocalExecutor exec;
  Command c;
  c.argv = {"openssl"};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.deadline = Deadline::In(Duration(30000));
  auto r = exec.Run(c, CancelToken::None());
  REQUIRE(r.ok());
  INFO(r->err);
  REQUIRE(r->exit_code == 0);
}

// A test CA and a certificate it issued for `name`, in a temp folder.
struct Certificates {
  TempDir dir{"http-client-tls"};
  std::string ca() const { return dir.path() + "/ca.pem"; }
  std::string cert() const { return dir.path() + "/server.pem"; }
  std::string key() const { return dir.path() + "/server.key"; }
  explicit Certificates(const std::string& name) {
    const std::string d = dir.path();
    OpenSsl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             d + "/ca.key", "-out", ca(), "-days", "2", "-subj", "/CN=http client test CA", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"});
    std::ofstream(d + "/ext") << "subjectAltName=DNS:" << name << "\n";
    OpenSsl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key(),
             "-out", d + "/server.csr", "-subj", "/CN=" + name});
    OpenSsl({"x509", "-req", "-in", d + "/server.csr", "-CA", ca(), "-CAkey", d + "/ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", d + "/ext", "-out", cert()});
  }
};

// A TLS server on loopback that answers every GET with the Host it was sent.
class TlsServer {
 public:
  explicit TlsServer(const Certificates& c) : tls_(c.cert().c_str(), c.key().c_str()) {
    tls_.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content("host=" + req.get_header_value("Host") + " path=" + req.path, "text/plain");
    });
    port_ = tls_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { tls_.listen_after_bind(); });
  }
  ~TlsServer() {
    tls_.stop();
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  httplib::SSLServer tls_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace

TEST_CASE("https by name reaches the address given, with the name as SNI and Host, verified", "[net]") {
  Certificates certs("shop.example.test");
  TlsServer server(certs);
  auto client = NewCurlHttpClient();
  HttpRequest req;
  req.url = "https://shop.example.test/orders?x=1";
  req.connect = server.address();
  req.ca_file = certs.ca();
  auto r = client->Send(req, CancelToken::None());
  INFO((r.ok() ? r->body : r.status().ToString()));
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "host=shop.example.test path=/orders");
}

TEST_CASE("a certificate for another name fails, naming what the server offered", "[net]") {
  Certificates certs("shop.example.test");
  TlsServer server(certs);
  auto client = NewCurlHttpClient();
  HttpRequest req;
  req.url = "https://blog.example.test/";
  req.connect = server.address();
  req.ca_file = certs.ca();
  auto r = client->Send(req, CancelToken::None());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kFailed);
  const std::string m = r.status().message();
  INFO(m);
  CHECK_THAT(m, Catch::Contains("no alternative certificate subject name matches target host name 'blog.example.test'"));
  CHECK_THAT(m, Catch::Contains("the server offered a certificate for subject CN = shop.example.test"));
  CHECK_THAT(m, Catch::Contains("issued by CN = http client test CA"));
  CHECK_THAT(m, Catch::Contains("names DNS:shop.example.test"));
  CHECK_THAT(m, Catch::Contains("checked against " + certs.ca()));

  // The right name, but not the CA it is checked against: refused too, never insecure.
  Certificates other("shop.example.test");
  req.url = "https://shop.example.test/";
  req.ca_file = other.ca();
  auto untrusted = client->Send(req, CancelToken::None());
  REQUIRE_FALSE(untrusted.ok());
  CHECK_THAT(untrusted.status().message(), Catch::Contains("the server offered a certificate for subject CN = shop.example.test"));
}

TEST_CASE("https needs an address to connect to; URLs of either scheme parse", "[net]") {
  auto client = NewCurlHttpClient();
  HttpRequest req;
  req.url = "https://shop.example.test/";
  auto r = client->Send(req, CancelToken::None());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kInvalidArgument);

  auto https = ParseHttpUrl("https://shop.example.test/a?b");
  REQUIRE(https.ok());
  CHECK(https->scheme == "https");
  CHECK(https->port == 443);
  CHECK(https->path == "/a?b");
  auto http = ParseHttpUrl("http://app:8080");
  REQUIRE(http.ok());
  CHECK(http->scheme == "http");
  CHECK(http->port == 8080);
  CHECK(ParseHttpUrl("ftp://x/").status().code() == Status::Code::kInvalidArgument);
  CHECK(ParseHttpUrl("https://:443/").status().code() == Status::Code::kInvalidArgument);
}

}  // namespace harness
