// ProxyStandin: runs scripts/proxy-standin — HAProxy in a local image on the Swarm's
// `proxy` network, routed by the Traefik labels of the services there, with certificates
// from a test CA — for tests of requests by domain and of the serving check.
//
// The object owns the child process and a temp folder (the CA, its certificates, the
// stand-in's log): the destructor sends SIGTERM, which makes the stand-in remove its stack
// (and the `proxy` network when it created it), waits for it, and removes the folder; a
// stand-in that does not stop in time is killed and its stack removed here. The child
// also gets SIGTERM if the test process dies. One test thread.
#pragma once

#include <string>

#include "base/temp_dir.h"

namespace harness::testing {

class ProxyStandin {
 public:
  // Starts the stand-in publishing 443 and 80; returns once it serves (REQUIREs it within
  // 120 s). Names matching `no_cert` (a Python regular expression) get no certificate of
  // their own, so the proxy's default one (for proxy-default.invalid) is served for them.
  explicit ProxyStandin(const std::string& no_cert = "");
  ~ProxyStandin();
  ProxyStandin(const ProxyStandin&) = delete;
  ProxyStandin& operator=(const ProxyStandin&) = delete;

  // The test CA's certificate (PEM): what --proxy-ca names.
  std::string ca_file() const { return dir_.path() + "/ca/ca.pem"; }
  static constexpr const char* kStack = "harness-e2e-proxy-standin";
  // The stand-in's output: its routes as they change, errors.
  std::string Log() const;
  // Waits until the log holds `text` (e.g. "route <domain>") at least `times` times; false
  // when `timeout_ms` passes first or the stand-in ended.
  bool WaitForLog(const std::string& text, int timeout_ms, int times = 1) const;

  // GET https://<domain><path> through the proxy with the curl command line (not the
  // harness's client), verified against the test CA: "<status> <body>", or "error: <why>".
  std::string Fetch(const std::string& domain, const std::string& path = "/") const;

 private:
  // Stops the stand-in (SIGTERM, then SIGKILL) and removes its stack if it is left.
  void Stop();
  TempDir dir_;
  int pid_ = -1;
};

}  // namespace harness::testing
