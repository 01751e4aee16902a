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
//
// With --keep-documents (bench/run.sh sets it, so that verify and delete reconciliation read back what a
// real server would return), the writes to those collections are kept in memory instead of discarded:
// each update statement {q: selector, u: replacement, upsert} replaces the document of its selector (an
// ObjectId _id is put in front of a new one, as MongoDB does), inserts are appended, deletes by _id
// remove. find (with an empty filter, sorted by the selectors' fields or not at all, with an inclusion
// projection of top-level fields), getMore and killCursors on those collections are answered from
// memory, in the selectors' order (MongoDB's value order, convert::compare_values). Everything else is
// still forwarded.

#include "convert/convert.hpp"

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
  bool keep_documents = false;
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

// ---- --keep-documents: the collections' documents in memory ---------------------------------------------

bson_t view_of(const std::string& bytes) {
  bson_t b;
  if (!bson_init_static(&b, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) bson_init(&b);
  return b;
}

std::string bytes_of(const bson_t* b) { return std::string(reinterpret_cast<const char*>(bson_get_data(b)), b->len); }

// Selectors ordered as MongoDB orders their values, field by field.
struct SelectorLess {
  bool operator()(const std::string& a, const std::string& b) const {
    bson_t x = view_of(a), y = view_of(b);
    bson_iter_t ix, iy;
    bson_iter_init(&ix, &x);
    bson_iter_init(&iy, &y);
    while (true) {
      const bool nx = bson_iter_next(&ix), ny = bson_iter_next(&iy);
      if (!nx || !ny) return !nx && ny;
      if (const int c = m2m::convert::compare_values(ix, iy); c != 0) return c < 0;
    }
  }
};

struct Collection {
  std::map<std::string, std::string, SelectorLess> by_key;  // selector -> document (upserts)
  std::vector<std::string> inserted;                        // inserts, in order
  std::vector<std::string> key_fields;                      // the selectors' field names
};

std::mutex g_store_mutex;
std::map<std::string, Collection> g_store;  // "db.coll"

std::vector<std::string> field_names(const bson_t* doc) {
  std::vector<std::string> out;
  bson_iter_t it;
  if (bson_iter_init(&it, doc))
    while (bson_iter_next(&it)) out.emplace_back(bson_iter_key(&it), bson_iter_key_len(&it));
  return out;
}

// The replacement with the _id of the document it replaces, or a new ObjectId, in front.
std::string with_id(const bson_t* replacement, const std::string* old) {
  bson_t out = BSON_INITIALIZER;
  bson_iter_t it;
  bool have_id = false;
  if (old) {
    bson_t o = view_of(*old);
    if (bson_iter_init_find(&it, &o, "_id")) {
      bson_append_iter(&out, "_id", 3, &it);
      have_id = true;
    }
  }
  if (!have_id && bson_iter_init_find(&it, replacement, "_id")) {
    bson_append_iter(&out, "_id", 3, &it);
    have_id = true;
  }
  if (!have_id) {
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(&out, "_id", &oid);
  }
  if (bson_iter_init(&it, replacement))
    while (bson_iter_next(&it))
      if (std::strcmp(bson_iter_key(&it), "_id") != 0) bson_append_iter(&out, nullptr, 0, &it);
  std::string bytes = bytes_of(&out);
  bson_destroy(&out);
  return bytes;
}

// Applies one write statement of an insert/update/delete command to the stored collection.
void apply_statement(Collection& c, std::string_view command, const bson_t* stmt) {
  bson_iter_t it;
  if (command == "insert") {
    c.inserted.push_back(with_id(stmt, nullptr));
    return;
  }
  if (command == "update") {
    bson_iter_t q, u;
    if (!bson_iter_init_find(&q, stmt, "q") || !bson_iter_init_find(&u, stmt, "u") || !BSON_ITER_HOLDS_DOCUMENT(&q) ||
        !BSON_ITER_HOLDS_DOCUMENT(&u))
      return;
    uint32_t ql = 0, ul = 0;
    const uint8_t *qd = nullptr, *ud = nullptr;
    bson_iter_document(&q, &ql, &qd);
    bson_iter_document(&u, &ul, &ud);
    const std::string selector(reinterpret_cast<const char*>(qd), ql);
    bson_t replacement;
    if (!bson_init_static(&replacement, ud, ul)) return;
    if (c.key_fields.empty()) {
      bson_t sel = view_of(selector);
      c.key_fields = field_names(&sel);
    }
    auto found = c.by_key.find(selector);
    if (found == c.by_key.end()) c.by_key.emplace(selector, with_id(&replacement, nullptr));
    else found->second = with_id(&replacement, &found->second);
    return;
  }
  // delete {q: {_id: ...}}: the bench never deletes in a keyed table, so a scan is good enough.
  if (!bson_iter_init_find(&it, stmt, "q") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return;
  uint32_t ql = 0;
  const uint8_t* qd = nullptr;
  bson_iter_document(&it, &ql, &qd);
  bson_t q;
  if (!bson_init_static(&q, qd, ql)) return;
  bson_iter_t want;
  if (!bson_iter_init_find(&want, &q, "_id")) return;
  for (auto e = c.by_key.begin(); e != c.by_key.end(); ++e) {
    bson_t d = view_of(e->second);
    bson_iter_t id;
    if (bson_iter_init_find(&id, &d, "_id") && m2m::convert::compare_values(id, want) == 0) {
      c.by_key.erase(e);
      return;
    }
  }
}

// An OP_MSG reply holding one document.
void make_reply(const std::vector<uint8_t>& request, const bson_t* body, std::vector<uint8_t>& out) {
  const size_t total = 16 + 4 + 1 + body->len;
  out.resize(total);
  put32(out.data(), static_cast<int32_t>(total));
  static std::atomic<int32_t> next_id{1 << 20};
  put32(out.data() + 4, next_id.fetch_add(1, std::memory_order_relaxed));
  put32(out.data() + 8, le32(request.data() + 4));
  put32(out.data() + 12, kOpMsg);
  put32(out.data() + 16, 0);
  out[20] = 0;
  std::memcpy(out.data() + 21, bson_get_data(body), body->len);
}

// A cursor of this connection over a stored collection.
struct Cursor {
  std::string ns;
  std::string after;   // the last selector sent (keyed), or
  size_t next = 0;     // the next inserted document (not keyed)
  bool keyed = true;
  bool started = false;
  std::vector<std::string> projection;  // empty: whole documents
  bool project_id = true;
  int batch = 101;
};

void append_projected(bson_t* array, const char* key, const std::string& doc, const Cursor& c) {
  bson_t d = view_of(doc);
  if (c.projection.empty()) {
    bson_append_document(array, key, -1, &d);
    return;
  }
  bson_t out;
  bson_append_document_begin(array, key, -1, &out);
  bson_iter_t it;
  if (bson_iter_init(&it, &d))
    while (bson_iter_next(&it)) {
      const std::string name = bson_iter_key(&it);
      if ((name == "_id" && c.project_id) ||
          std::find(c.projection.begin(), c.projection.end(), name) != c.projection.end())
        bson_append_iter(&out, nullptr, 0, &it);
    }
  bson_append_document_end(array, &out);
}

// The next batch of `c` as {cursor: {firstBatch|nextBatch: [...], id, ns}, ok: 1}; the id is 0 at the end.
void cursor_reply(Cursor& c, int64_t id, bool first, bson_t* reply) {
  bson_t cursor, array;
  BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
  BSON_APPEND_ARRAY_BEGIN(&cursor, first ? "firstBatch" : "nextBatch", &array);
  bool more = false;
  {
    std::lock_guard lock(g_store_mutex);
    auto found = g_store.find(c.ns);
    if (found != g_store.end()) {
      const Collection& coll = found->second;
      int n = 0;
      size_t bytes = 0;
      char buf[16];
      const char* key;
      auto room = [&] { return n < c.batch && bytes < 8 * 1024 * 1024; };
      if (c.keyed) {
        auto it = c.started ? coll.by_key.upper_bound(c.after) : coll.by_key.begin();
        for (; it != coll.by_key.end() && room(); ++it, ++n) {
          bson_uint32_to_string(static_cast<uint32_t>(n), &key, buf, sizeof buf);
          append_projected(&array, key, it->second, c);
          bytes += it->second.size();
          c.after = it->first;
          c.started = true;
        }
        more = it != coll.by_key.end();
      } else {
        for (; c.next < coll.inserted.size() && room(); ++c.next, ++n) {
          bson_uint32_to_string(static_cast<uint32_t>(n), &key, buf, sizeof buf);
          append_projected(&array, key, coll.inserted[c.next], c);
          bytes += coll.inserted[c.next].size();
        }
        more = c.next < coll.inserted.size();
      }
    }
  }
  bson_append_array_end(&cursor, &array);
  BSON_APPEND_INT64(&cursor, "id", more ? id : 0);
  BSON_APPEND_UTF8(&cursor, "ns", c.ns.c_str());
  bson_append_document_end(reply, &cursor);
  BSON_APPEND_DOUBLE(reply, "ok", 1.0);
}

// Answers find / getMore / killCursors on a stored collection; false to forward the message.
bool try_serve_read(const std::vector<uint8_t>& msg, std::vector<uint8_t>& out, std::map<int64_t, Cursor>& cursors) {
  if (le32(msg.data() + 12) != kOpMsg || msg.size() < 26 || msg[20] != 0) return false;
  bson_t body;
  if (!bson_init_static(&body, msg.data() + 21, static_cast<size_t>(le32(msg.data() + 21)))) return false;
  bson_iter_t it, f;
  if (!bson_iter_init(&it, &body) || !bson_iter_next(&it)) return false;
  const std::string name = bson_iter_key(&it);
  if (name != "find" && name != "getMore" && name != "killCursors") return false;
  std::string db;
  if (bson_iter_init_find(&f, &body, "$db") && BSON_ITER_HOLDS_UTF8(&f)) db = bson_iter_utf8(&f, nullptr);
  bson_t reply = BSON_INITIALIZER;
  bool handled = false;
  if (name == "find" && BSON_ITER_HOLDS_UTF8(&it)) {
    Cursor c;
    c.ns = db + "." + bson_iter_utf8(&it, nullptr);
    std::vector<std::string> key_fields;
    {
      std::lock_guard lock(g_store_mutex);
      auto found = g_store.find(c.ns);
      if (found == g_store.end()) {
        bson_destroy(&reply);
        return false;
      }
      key_fields = found->second.key_fields;
      c.keyed = !found->second.by_key.empty() || found->second.inserted.empty();
    }
    // Only what the tool asks: no filter, sorted by the key (or not at all); or the documents of some
    // keys of a one-field key, {field: {$in: [...]}} (verify reading differing keys again).
    bool ok = true;
    std::vector<std::string> in_keys;
    bool by_keys = false;
    if (bson_iter_init_find(&f, &body, "filter") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      bson_iter_t child, op, values;
      if (bson_iter_recurse(&f, &child) && bson_iter_next(&child)) {
        const std::string field = bson_iter_key(&child);
        if (key_fields.size() == 1 && field == key_fields[0] && BSON_ITER_HOLDS_DOCUMENT(&child) &&
            bson_iter_recurse(&child, &op) && bson_iter_next(&op) && std::strcmp(bson_iter_key(&op), "$in") == 0 &&
            BSON_ITER_HOLDS_ARRAY(&op) && bson_iter_recurse(&op, &values) && !bson_iter_next(&child)) {
          by_keys = true;
          while (bson_iter_next(&values)) {
            bson_t sel = BSON_INITIALIZER;
            bson_append_iter(&sel, field.c_str(), -1, &values);
            in_keys.push_back(bytes_of(&sel));
            bson_destroy(&sel);
          }
        } else {
          ok = false;
        }
      }
    }
    if (bson_iter_init_find(&f, &body, "sort") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_document(&f, &len, &data);
      bson_t sort;
      bson_init_static(&sort, data, len);
      const auto fields = field_names(&sort);
      if (!fields.empty() && fields != key_fields) ok = false;
    }
    if (bson_iter_init_find(&f, &body, "projection") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      bson_iter_t child;
      bson_iter_recurse(&f, &child);
      while (bson_iter_next(&child)) {
        const std::string k = bson_iter_key(&child);
        if (k == "_id") c.project_id = bson_iter_as_bool(&child);
        else c.projection.push_back(k);
      }
      if (c.projection.empty()) c.projection.push_back("_id");
    }
    if (bson_iter_init_find(&f, &body, "batchSize")) c.batch = std::max<int>(1, static_cast<int>(bson_iter_as_int64(&f)));
    if (ok && by_keys) {
      bson_t cursor, array;
      BSON_APPEND_DOCUMENT_BEGIN(&reply, "cursor", &cursor);
      BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &array);
      {
        std::lock_guard lock(g_store_mutex);
        const Collection& coll = g_store[c.ns];
        int n = 0;
        for (const auto& k : in_keys) {
          auto hit = coll.by_key.find(k);
          if (hit == coll.by_key.end()) continue;
          const std::string key = std::to_string(n++);
          append_projected(&array, key.c_str(), hit->second, c);
        }
      }
      bson_append_array_end(&cursor, &array);
      BSON_APPEND_INT64(&cursor, "id", 0);
      BSON_APPEND_UTF8(&cursor, "ns", c.ns.c_str());
      bson_append_document_end(&reply, &cursor);
      BSON_APPEND_DOUBLE(&reply, "ok", 1.0);
      handled = true;
    } else if (ok) {
      static std::atomic<int64_t> next_cursor{1};
      const int64_t id = next_cursor.fetch_add(1);
      cursor_reply(c, id, true, &reply);
      cursors[id] = c;
      handled = true;
    }
  } else if (name == "getMore" && BSON_ITER_HOLDS_INT64(&it)) {
    const int64_t id = bson_iter_int64(&it);
    auto found = cursors.find(id);
    if (found != cursors.end()) {
      if (bson_iter_init_find(&f, &body, "batchSize"))
        found->second.batch = std::max<int>(1, static_cast<int>(bson_iter_as_int64(&f)));
      cursor_reply(found->second, id, false, &reply);
      handled = true;
    }
  } else if (name == "killCursors" && bson_iter_init_find(&f, &body, "cursors") && BSON_ITER_HOLDS_ARRAY(&f)) {
    bson_iter_t ids;
    bson_iter_recurse(&f, &ids);
    bson_t killed;
    BSON_APPEND_ARRAY_BEGIN(&reply, "cursorsKilled", &killed);
    int n = 0;
    bool all_ours = true;
    while (bson_iter_next(&ids)) {
      const int64_t id = bson_iter_as_int64(&ids);
      if (!cursors.erase(id)) all_ours = false;
      const std::string k = std::to_string(n++);
      BSON_APPEND_INT64(&killed, k.c_str(), id);
    }
    bson_append_array_end(&reply, &killed);
    BSON_APPEND_DOUBLE(&reply, "ok", 1.0);
    handled = all_ours;
  }
  if (handled) make_reply(msg, &reply, out);
  bson_destroy(&reply);
  return handled;
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
  Collection* stored = nullptr;
  std::unique_lock<std::mutex> store_lock;
  if (g_opts.keep_documents) {
    store_lock = std::unique_lock<std::mutex>(g_store_mutex);
    stored = &g_store[std::string(db) + "." + std::string(coll, clen)];
  }
  if (bson_iter_init_find(&f, &doc, field) && BSON_ITER_HOLDS_ARRAY(&f)) {
    bson_iter_t child;
    if (bson_iter_recurse(&f, &child))
      while (bson_iter_next(&child)) {
        ++n;
        if (stored && BSON_ITER_HOLDS_DOCUMENT(&child)) {
          uint32_t len = 0;
          const uint8_t* data = nullptr;
          bson_iter_document(&child, &len, &data);
          bson_t stmt;
          if (bson_init_static(&stmt, data, len)) apply_statement(*stored, name, &stmt);
        }
      }
  }
  for (int i = 0; i < nseq; ++i) {
    if (seqs[i].ident != field) continue;
    for (size_t p = seqs[i].start; p < seqs[i].stop;) {
      if (p + 4 > seqs[i].stop) return false;
      const int32_t dl = le32(msg.data() + p);
      if (dl < 5) return false;
      if (stored) {
        bson_t stmt;
        if (bson_init_static(&stmt, msg.data() + p, static_cast<size_t>(dl))) apply_statement(*stored, name, &stmt);
      }
      p += static_cast<size_t>(dl);
      ++n;
    }
  }
  if (store_lock.owns_lock()) store_lock.unlock();
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
  std::map<int64_t, Cursor> cursors;
  while (read_message(client, msg)) {
    if (try_discard(msg, reply)) {
      if (!reply.empty() && !write_full(client, reply.data(), reply.size())) break;
      continue;
    }
    if (g_opts.keep_documents && try_serve_read(msg, reply, cursors)) {
      if (!write_full(client, reply.data(), reply.size())) break;
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
    } else if (a == "--keep-documents") g_opts.keep_documents = true;
    else if (a == "--keep-writes-for") g_opts.keep.push_back(value());
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
  std::printf("m2m_discard_endpoint: listening on %s:%d (%s; backend %s:%d)\n", g_opts.host.c_str(), port,
              g_opts.keep_documents ? "keeping documents in memory" : "discarding writes", g_opts.backend_host.c_str(),
              g_opts.backend_port);
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
