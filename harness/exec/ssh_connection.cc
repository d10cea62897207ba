// SshExecutor's connections (exec/ssh_connection.h): one new connection resolves the host,
// connects with a timeout, shakes hands, checks the host key against known_hosts (recording
// an unknown one only when asked to), authenticates with a key file, ssh-agent or the
// default keys, and sets up keepalives. Every error names the target and the cause, and
// says whether trying again might help.
#include "exec/ssh_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/scope_guard.h"

namespace harness {

std::string ssh_connection::Home() {
  const char* h = std::getenv("HOME");
  return h != nullptr && *h != '\0' ? h : "/root";
}

namespace {

std::string Base64(const unsigned char* data, size_t len) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = data[i] << 16;
    if (i + 1 < len) v |= data[i + 1] << 8;
    if (i + 2 < len) v |= data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    if (i + 1 < len) out += kAlphabet[(v >> 6) & 63];
    if (i + 2 < len) out += kAlphabet[v & 63];
  }
  return out;  // unpadded, as ssh-keygen prints fingerprints
}

}  // namespace

Result<std::unique_ptr<SshExecutor::Connection>> SshExecutor::Dial(Deadline deadline, bool* retryable) {
  *retryable = true;
  const std::string who = target_.Describe();
  Deadline d = deadline.Min(Deadline::In(options_.connect_timeout));
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  std::string port = std::to_string(target_.port);
  if (int gai = getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &res); gai != 0) {
    *retryable = gai == EAI_AGAIN;
    return Status::Infra(who + ": cannot resolve host '" + target_.host + "': " + gai_strerror(gai));
  }
  int fd = -1;
  std::string why = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int pr = poll(&p, 1, static_cast<int>(d.remaining().count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (pr > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (pr > 0 && err == 0) break;
      why = pr == 0 ? "no answer within " + FormatDuration(options_.connect_timeout) : std::strerror(err);
    } else if (rc == 0) {
      break;
    } else {
      why = std::strerror(errno);
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::Infra(who + ": cannot reach the host: " + why);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  auto c = std::make_unique<Connection>();
  c->fd = fd;
  c->session = libssh2_session_init();
  if (c->session == nullptr) return Status::Infra(who + ": libssh2 could not start a session");
  libssh2_session_set_blocking(c->session, 0);
  libssh2_session_method_pref(c->session, LIBSSH2_METHOD_HOSTKEY,
                              "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa");
  const CancelToken& none = CancelToken::None();
  int rc = c->Await(d, none, [&] { return libssh2_session_handshake(c->session, fd); });
  if (rc != 0) {
    return Status::Infra(who + ": SSH handshake failed: " +
                         (rc == Connection::kTimedOut ? "no answer within " + FormatDuration(options_.connect_timeout)
                                          : c->LastError()));
  }
  if (Status s = CheckHostKey(*c, retryable); !s.ok()) return s;
  if (Status s = Authenticate(*c, d, retryable); !s.ok()) return s;
  libssh2_keepalive_config(c->session, 1,
                           static_cast<unsigned>(std::max<long long>(1, options_.keepalive.count() / 1000)));
  return c;
}

Status SshExecutor::CheckHostKey(Connection& c, bool* retryable) {
  const std::string who = target_.Describe();
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(c.session, &len, &type);
  if (key == nullptr) return Status::Infra(who + ": the server sent no host key");
  int keybit = 0;
  std::string type_name;
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: keybit = LIBSSH2_KNOWNHOST_KEY_SSHRSA; type_name = "ssh-rsa"; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: keybit = LIBSSH2_KNOWNHOST_KEY_SSHDSS; type_name = "ssh-dss"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256; type_name = "ecdsa-sha2-nistp256"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384; type_name = "ecdsa-sha2-nistp384"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: keybit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521; type_name = "ecdsa-sha2-nistp521"; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: keybit = LIBSSH2_KNOWNHOST_KEY_ED25519; type_name = "ssh-ed25519"; break;
    default: return Status::Infra(who + ": unsupported host key type");
  }
  const auto* hash = reinterpret_cast<const unsigned char*>(libssh2_hostkey_hash(c.session, LIBSSH2_HOSTKEY_HASH_SHA256));
  std::string fingerprint = type_name + " SHA256:" + (hash != nullptr ? Base64(hash, 32) : "?");
  std::string pattern = target_.port == 22 ? target_.host : "[" + target_.host + "]:" + std::to_string(target_.port);
  const std::string& file = options_.known_hosts;

  LIBSSH2_KNOWNHOSTS* kh = libssh2_knownhost_init(c.session);
  if (kh == nullptr) return Status::Infra(who + ": libssh2 could not read known hosts");
  ScopeGuard free_kh([&] { libssh2_knownhost_free(kh); });
  bool exists = access(file.c_str(), F_OK) == 0;
  if (exists && libssh2_knownhost_readfile(kh, file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    *retryable = false;
    return Status::Infra(who + ": cannot read the known hosts file " + file + ": " + c.LastError());
  }
  libssh2_knownhost* found = nullptr;
  int check = libssh2_knownhost_checkp(kh, target_.host.c_str(), target_.port, key, len,
                                       LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &found);
  switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return Status::Ok();
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
      *retryable = false;
      return Status::Infra(who + ": the host key has CHANGED: the server offers " + fingerprint +
                           ", which differs from the key recorded for " + pattern + " in " + file +
                           ". Someone may be intercepting the connection, or the host was reinstalled; "
                           "if you trust the change, remove the old key (ssh-keygen -R '" + pattern + "' -f " +
                           file + ") and connect again");
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      break;
    default:
      *retryable = false;
      return Status::Infra(who + ": cannot check the host key against " + file + ": " + c.LastError());
  }
  if (!options_.accept_new_host_key) {
    *retryable = false;
    return Status::Infra(who + ": unknown host key " + fingerprint + " (not in " + file +
                         "); check it with the host's owner and add it (ssh-keyscan -p " +
                         std::to_string(target_.port) + " " + target_.host + " >> " + file +
                         "), or pass --accept-new-host-key");
  }
  libssh2_knownhost* added = nullptr;
  const std::string comment = "added by recipe-harness";
  if (libssh2_knownhost_addc(kh, pattern.c_str(), nullptr, key, len, comment.c_str(), comment.size(),
                             LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &added) != 0) {
    return Status::Infra(who + ": cannot record the new host key: " + c.LastError());
  }
  char line[8192];
  size_t out_len = 0;
  if (libssh2_knownhost_writeline(kh, added, line, sizeof line, &out_len, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
    return Status::Infra(who + ": cannot record the new host key: " + c.LastError());
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  int fd = open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || write(fd, line, out_len) != static_cast<ssize_t>(out_len)) {
    if (fd >= 0) close(fd);
    *retryable = false;
    return Status::Infra(who + ": cannot add the host key to " + file + ": " + std::strerror(errno));
  }
  close(fd);
  return Status::Ok();
}

Status SshExecutor::Authenticate(Connection& c, Deadline deadline, bool* retryable) {
  const std::string who = target_.Describe();
  const std::string& user = target_.user;
  const CancelToken& none = CancelToken::None();
  auto try_file = [&](const std::string& key) {
    return c.Await(deadline, none, [&] {
      return libssh2_userauth_publickey_fromfile_ex(c.session, user.c_str(), user.size(), nullptr, key.c_str(),
                                                    nullptr);
    });
  };
  if (!options_.identity_file.empty()) {
    if (access(options_.identity_file.c_str(), R_OK) != 0) {
      *retryable = false;
      return Status::Infra(who + ": cannot read the key file " + options_.identity_file + ": " +
                           std::strerror(errno));
    }
    int rc = try_file(options_.identity_file);
    if (rc == 0) return Status::Ok();
    if (rc == Connection::kTimedOut) return Status::Infra(who + ": no answer while authenticating");
    *retryable = false;
    return Status::Infra(who + ": the server did not accept the key " + options_.identity_file + " for user '" +
                         user + "' (" + c.LastError() + ")");
  }
  std::vector<std::string> tried;
  if (const char* sock = std::getenv("SSH_AUTH_SOCK"); sock != nullptr && *sock != '\0') {
    LIBSSH2_AGENT* agent = libssh2_agent_init(c.session);
    if (agent != nullptr) {
      ScopeGuard free_agent([&] {
        libssh2_agent_disconnect(agent);
        libssh2_agent_free(agent);
      });
      int keys = 0;
      if (libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
        libssh2_agent_publickey* prev = nullptr;
        libssh2_agent_publickey* id = nullptr;
        while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
          ++keys;
          int rc = c.Await(deadline, none, [&] { return libssh2_agent_userauth(agent, user.c_str(), id); });
          if (rc == 0) return Status::Ok();
          prev = id;
        }
      }
      tried.push_back("ssh-agent (" + std::to_string(keys) + " keys)");
    }
  }
  for (const char* name : {"id_ed25519", "id_ecdsa"}) {
    std::string key = ssh_connection::Home() + "/.ssh/" + name;
    if (access(key.c_str(), R_OK) != 0) continue;
    tried.push_back(key);
    if (try_file(key) == 0) return Status::Ok();
  }
  *retryable = false;
  if (tried.empty()) {
    return Status::Infra(who + ": no SSH key to offer: give --ssh-key, or load a key into ssh-agent");
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  return Status::Infra(who + ": the server accepted no key for user '" + user + "' (tried " + list + ")");
}

}  // namespace harness
