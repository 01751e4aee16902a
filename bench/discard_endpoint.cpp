// A MongoDB wire endpoint for the benchmarks that acknowledges bulk writes without storing them.
//
// The hot path of a sync is the stream of insert/update/delete commands (OP_MSG with a kind-1 document
// sequence) sent to the synced collections. This program answers those itself: it counts the documents
// of the sequence by their length prefixes, never decoding them, and replies {n, nModified, ok: 1}, so
// the cost of a batch is one read of the socket and a 60-byte reply. Everything else (the handshake,
// ping, the tool's own _sync_metadata and lock documents, index creation, the key read-back of delete
// reconciliation, ...) is forwarded unchanged over a per-connection socket to a backend: the test
// endpoint tests/support/mongo_endpoint.py started with --discard-writes, which implements every command
// the tool uses. Those messages are rare (a few per table, plus one checkpoint per batch), so the tool's
// own work is what a benchmark measures.
//
// Command line (the same as mongo_endpoint.py's, so tests/support/rig.sh can start it through the
// MYSQL2MONGO_RIG_MONGO_ENDPOINT shim bench/discard_endpoint.py):
//   m2m_discard_endpoint --host H --port P --port-file PATH [--discard-writes] [--keep-writes-for GLOB]...
//                        (--backend-script PATH [--backend-python PATH] | --backend HOST:PORT)
// Writes to collections whose name starts with "_" or matches a --keep-writes-for glob (against "coll"
// and "db.coll") are forwarded, as the Python endpoint keeps them. The backend is started as a child
// (same process group) with --port-file PATH.backend and stopped on SIGTERM/SIGINT.
//
// On SIGUSR1 one line of counters goes to stdout: discarded batches and documents, forwarded messages
// and the wall time spent waiting for the backend.

#include <bson/bson.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr int32_t kOpMsg = 2013;
constexpr uint32_t kChecksumPresent = 1u << 0;
constexpr uint32_t kMoreToCome = 1u << 1;
constexpr int32_t kMaxMessage = 48'000'000 + 16 * 1024 * 1024;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string port_file;
  std::vector<std::string> keep{"_*"};
  std::string backend_python = "/usr/bin/python3";
  std::string backend_script;
  std::string backend_host;
  int backend_port = 0;
};

Options g_opts;
std::atomic<pid_t> g_child{0};
std::atomic<uint64_t> g_discarded_batches{0}, g_discarded_docs{0}, g_forwarded{0}, g_backend_ns{0};
// Forwarded commands by name, for counting round trips (bench/tables.sh).
std::mutex g_names_mutex;
std::map<std::string, uint64_t> g_names;
volatile sig_atomic_t g_dump = 0;

void die(const std::string& msg) {
  std::fprintf(stderr, "m2m_discard_endpoint: %s\n", msg.c_str());
  if (pid_t c = g_child.load(); c > 0) kill(c, SIGTERM);
  std::exit(1);
}

int32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86-64 and every platform the tool targets are little-endian
  return static_cast<int32_t>(v);
}

void put32(uint8_t* p, int32_t v) { std::memcpy(p, &v, 4); }

bool read_full(int fd, uint8_t* buf, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, buf, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    buf += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_full(int fd, const uint8_t* buf, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// One whole message (header included) into buf.
bool read_message(int fd, std::vector<uint8_t>& buf) {
  uint8_t head[4];
  if (!read_full(fd, head, 4)) return false;
  const int32_t len = le32(head);
  if (len < 16 || len > kMaxMessage) return false;
  buf.resize(static_cast<size_t>(len));
  std::memcpy(buf.data(), head, 4);
  return read_full(fd, buf.data() + 4, static_cast<size_t>(len) - 4);
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_to(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

bool kept(std::string_view db, std::string_view coll) {
  const std::string c(coll), full = std::string(db) + "." + c;
  for (const auto& pat : g_opts.keep)
    if (fnmatch(pat.c_str(), c.c_str(), 0) == 0 || fnmatch(pat.c_str(), full.c_str(), 0) == 0) return true;
  return false;
}

// If msg is an insert/update/delete OP_MSG to a discarded collection, writes the reply into out and
// returns true (out stays empty for moreToCome: an unacknowledged write has no reply).
bool try_discard(const std::vector<uint8_t>& msg, std::vector<uint8_t>& out) {
  out.clear();
  if (le32(msg.data() + 12) != kOpMsg || msg.size() < 21) return false;
  const uint32_t flags = static_cast<uint32_t>(le32(msg.data() + 16));
  size_t end = msg.size() - ((flags & kChecksumPresent) ? 4 : 0);
  size_t pos = 20;
  const uint8_t* body = nullptr;
  size_t body_len = 0;
  struct Seq {
    std::string_view ident;
    size_t start, stop;
  };
  Seq seqs[4];
  int nseq = 0;
  while (pos < end) {
    const uint8_t kind = msg[pos++];
    if (pos + 4 > end) return false;
    const int32_t size = le32(msg.data() + pos);
    if (size < 5 || pos + static_cast<size_t>(size) > end) return false;
    if (kind == 0) {
      body = msg.data() + pos;
      body_len = static_cast<size_t>(size);
    } else if (kind == 1) {
      const char* id = reinterpret_cast<const char*>(msg.data() + pos + 4);
      const size_t max_id = static_cast<size_t>(size) - 4;
      const size_t idlen = strnlen(id, max_id);
      if (idlen == max_id) return false;
      if (nseq == 4) return false;
      seqs[nseq++] = {std::string_view(id, idlen), pos + 4 + idlen + 1, pos + static_cast<size_t>(size)};
    } else {
      return false;
    }
    pos += static_cast<size_t>(size);
  }
  if (!body) return false;
  bson_t doc;
  if (!bson_init_static(&doc, body, body_len)) return false;
  bson_iter_t it;
  if (!bson_iter_init(&it, &doc) || !bson_iter_next(&it)) return false;
  const std::string_view name = bson_iter_key(&it);
  const char* field = name == "insert" ? "documents" : name == "update" ? "updates" : name == "delete" ? "deletes" : nullptr;
  if (!field || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  uint32_t clen = 0;
  const char* coll = bson_iter_utf8(&it, &clen);
  std::string_view db;
  int64_t n = 0;
  bson_iter_t f;
  if (bson_iter_init_find(&f, &doc, "$db") && BSON_ITER_HOLDS_UTF8(&f)) {
    uint32_t dlen = 0;
    const char* d = bson_iter_utf8(&f, &dlen);
    db = std::string_view(d, dlen);
  } else {
    return false;  // let the backend produce the error
  }
  if (kept(db, std::string_view(coll, clen))) return false;
  if (bson_iter_init_find(&f, &doc, field) && BSON_ITER_HOLDS_ARRAY(&f)) {
    bson_iter_t child;
    if (bson_iter_recurse(&f, &child))
      while (bson_iter_next(&child)) ++n;
  }
  for (int i = 0; i < nseq; ++i) {
    if (seqs[i].ident != field) continue;
    for (size_t p = seqs[i].start; p < seqs[i].stop;) {
      if (p + 4 > seqs[i].stop) return false;
      const int32_t dl = le32(msg.data() + p);
      if (dl < 5) return false;
      p += static_cast<size_t>(dl);
      ++n;
    }
  }
  g_discarded_batches.fetch_add(1, std::memory_order_relaxed);
  g_discarded_docs.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  if (flags & kMoreToCome) return true;

  bson_t reply = BSON_INITIALIZER;
  if (n <= INT32_MAX) BSON_APPEND_INT32(&reply, "n", static_cast<int32_t>(n));
  else BSON_APPEND_INT64(&reply, "n", n);
  if (name == "update") BSON_APPEND_INT32(&reply, "nModified", 0);
  BSON_APPEND_DOUBLE(&reply, "ok", 1.0);
  const size_t total = 16 + 4 + 1 + reply.len;
  out.resize(total);
  put32(out.data(), static_cast<int32_t>(total));
  static std::atomic<int32_t> next_id{1};
  put32(out.data() + 4, next_id.fetch_add(1, std::memory_order_relaxed));
  put32(out.data() + 8, le32(msg.data() + 4));  // responseTo: the request's id
  put32(out.data() + 12, kOpMsg);
  put32(out.data() + 16, 0);
  out[20] = 0;
  std::memcpy(out.data() + 21, bson_get_data(&reply), reply.len);
  bson_destroy(&reply);
  return true;
}

// The command's name: the first key of an OP_MSG body (section 0), or of an OP_QUERY's query.
std::string command_name(const std::vector<uint8_t>& msg) {
  if (msg.size() < 21) return "?";
  const int32_t op = le32(msg.data() + 12);
  size_t doc_at = 0;
  if (op == kOpMsg) {
    size_t pos = 20;
    while (pos + 5 <= msg.size() && msg[pos] != 0) {
      const int32_t size = le32(msg.data() + pos + 1);  // a kind-1 section: skip it
      if (size < 5) return "?";
      pos += 1 + static_cast<size_t>(size);
    }
    if (pos + 5 > msg.size()) return "?";
    doc_at = pos + 1;
  } else if (op == 2004) {  // OP_QUERY: flags, collection name, skip, return, then the query
    size_t pos = 20;
    while (pos < msg.size() && msg[pos] != 0) ++pos;
    doc_at = pos + 1 + 8;
  } else {
    return "?";
  }
  if (doc_at + 5 > msg.size()) return "?";
  const size_t key_at = doc_at + 5;  // length, then the first element's type byte
  size_t e = key_at;
  while (e < msg.size() && msg[e] != 0) ++e;
  return std::string(reinterpret_cast<const char*>(msg.data() + key_at), e - key_at);
}

bool more_to_come(const std::vector<uint8_t>& msg) {
  return le32(msg.data() + 12) == kOpMsg && msg.size() >= 20 && (static_cast<uint32_t>(le32(msg.data() + 16)) & kMoreToCome);
}

void serve(int client) {
  set_nodelay(client);
  int backend = -1;
  std::vector<uint8_t> msg, reply;
  while (read_message(client, msg)) {
    if (try_discard(msg, reply)) {
      if (!reply.empty() && !write_full(client, reply.data(), reply.size())) break;
      continue;
    }
    // Forward, then relay replies until one without moreToCome (exhaust cursors, streaming hello).
    if (backend < 0 && (backend = connect_to(g_opts.backend_host, g_opts.backend_port)) < 0) {
      std::fprintf(stderr, "m2m_discard_endpoint: cannot connect to the backend %s:%d: %s\n",
                   g_opts.backend_host.c_str(), g_opts.backend_port, std::strerror(errno));
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    g_forwarded.fetch_add(1, std::memory_order_relaxed);
    {
      const std::string name = command_name(msg);
      std::lock_guard lock(g_names_mutex);
      ++g_names[name];
    }
    if (!write_full(backend, msg.data(), msg.size())) break;
    bool ok = true;
    if (!more_to_come(msg)) {
      do {
        if (!read_message(backend, reply) || !write_full(client, reply.data(), reply.size())) {
          ok = false;
          break;
        }
      } while (more_to_come(reply));
    }
    g_backend_ns.fetch_add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now() - t0).count()),
                           std::memory_order_relaxed);
    if (!ok) break;
  }
  if (backend >= 0) ::close(backend);
  ::close(client);
}

void on_term(int) {
  if (pid_t c = g_child.load(); c > 0) kill(c, SIGTERM);
  _exit(0);
}

void on_usr1(int) { g_dump = 1; }

void write_port_file(const std::string& path, int port) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(tmp);
    f << port << "\n";
    if (!f) die("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) die("cannot rename " + tmp + " to " + path);
}

void start_backend() {
  const std::string pf = g_opts.port_file.empty() ? "/tmp/m2m_discard_backend." + std::to_string(getpid()) + ".port"
                                                  : g_opts.port_file + ".backend";
  ::unlink(pf.c_str());
  std::vector<std::string> args{g_opts.backend_python, g_opts.backend_script, "--host", "127.0.0.1", "--port", "0",
                                "--port-file", pf, "--discard-writes"};
  for (size_t i = 1; i < g_opts.keep.size(); ++i) {  // "_*" is the backend's own default
    args.emplace_back("--keep-writes-for");
    args.push_back(g_opts.keep[i]);
  }
  const pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "m2m_discard_endpoint: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  g_child = pid;
  for (int i = 0; i < 1200; ++i) {  // 60 s
    std::ifstream f(pf);
    int port = 0;
    if (f >> port && port > 0) {
      g_opts.backend_host = "127.0.0.1";
      g_opts.backend_port = port;
      return;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      g_child = 0;
      die("the backend endpoint exited during startup");
    }
    usleep(50'000);
  }
  die("the backend endpoint wrote no port file within 60 s");
}

void parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--host") g_opts.host = value();
    else if (a == "--port") g_opts.port = std::atoi(value().c_str());
    else if (a == "--port-file") g_opts.port_file = value();
    else if (a == "--discard-writes") {
    } else if (a == "--keep-writes-for") g_opts.keep.push_back(value());
    else if (a == "--backend-python") g_opts.backend_python = value();
    else if (a == "--backend-script") g_opts.backend_script = value();
    else if (a == "--backend") {
      const std::string hp = value();
      const auto colon = hp.rfind(':');
      if (colon == std::string::npos) die("--backend HOST:PORT");
      g_opts.backend_host = hp.substr(0, colon);
      g_opts.backend_port = std::atoi(hp.c_str() + colon + 1);
    } else die("unknown argument " + a);
  }
  if (g_opts.backend_script.empty() && g_opts.backend_port == 0) die("give --backend-script PATH or --backend HOST:PORT");
}

}  // namespace

int main(int argc, char** argv) {
  parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (!g_opts.backend_script.empty()) start_backend();

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket failed");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g_opts.port));
  if (inet_pton(AF_INET, g_opts.host.c_str(), &a.sin_addr) != 1) die("bad --host " + g_opts.host);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(lfd, 256) != 0)
    die("cannot listen on " + g_opts.host + ":" + std::to_string(g_opts.port) + ": " + std::strerror(errno));
  socklen_t alen = sizeof a;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &alen);
  const int port = ntohs(a.sin_port);
  if (!g_opts.port_file.empty()) write_port_file(g_opts.port_file, port);
  std::printf("m2m_discard_endpoint: listening on %s:%d (discarding writes; backend %s:%d)\n", g_opts.host.c_str(), port,
              g_opts.backend_host.c_str(), g_opts.backend_port);
  std::fflush(stdout);

  while (true) {
    pollfd p{lfd, POLLIN, 0};
    const int r = poll(&p, 1, 200);
    if (g_dump) {
      g_dump = 0;
      std::printf("m2m_discard_endpoint: stats discarded_batches=%llu discarded_docs=%llu forwarded=%llu backend_wait_s=%.3f\n",
                  static_cast<unsigned long long>(g_discarded_batches.load()),
                  static_cast<unsigned long long>(g_discarded_docs.load()),
                  static_cast<unsigned long long>(g_forwarded.load()), static_cast<double>(g_backend_ns.load()) / 1e9);
      {
        std::lock_guard lock(g_names_mutex);
        std::printf("m2m_discard_endpoint: commands");
        for (const auto& [name, n] : g_names) std::printf(" %s=%llu", name.c_str(), static_cast<unsigned long long>(n));
        std::printf("\n");
      }
      std::fflush(stdout);
    }
    if (pid_t c = g_child.load(); c > 0) {
      int status;
      if (waitpid(c, &status, WNOHANG) == c) {
        g_child = 0;
        die("the backend endpoint exited");
      }
    }
    if (r <= 0) continue;
    const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(serve, fd).detach();
  }
}
