// m2m_binlog_dump FILE [--keys] [--quiet]: reads a local binlog file with lib/binlog (FileReader, Decoder,
// the row walker), prints one line per event (position, type, what it holds) and, with --keys, the primary
// key of every changed row taken as the first column; then the decode throughput. A tool for developers:
// not part of the test suite.
#include "binlog/event.hpp"
#include "binlog/reader.hpp"
#include "binlog/rows.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

using namespace m2m::binlog;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: m2m_binlog_dump FILE [--keys] [--quiet]\n");
    return 64;
  }
  bool keys = false, quiet = false;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--keys")) keys = true;
    else if (!std::strcmp(argv[i], "--quiet")) quiet = true;
  }
  auto reader = FileReader::open(argv[1]);
  if (!reader) {
    std::fprintf(stderr, "m2m_binlog_dump: %s\n", reader.error().message.c_str());
    return 1;
  }
  Decoder decoder;
  std::map<std::uint64_t, TableMap> tables;
  std::uint64_t events = 0, bytes = 0, rows = 0;
  const auto start = std::chrono::steady_clock::now();
  RawEvent raw;
  for (;;) {
    auto more = (*reader)->next(raw);
    if (!more) {
      std::fprintf(stderr, "m2m_binlog_dump: %s\n", more.error().message.c_str());
      return 1;
    }
    if (!*more) break;
    ++events;
    bytes += raw.bytes.size();
    auto ev = decoder.decode(raw.bytes);
    if (!ev) {
      std::fprintf(stderr, "m2m_binlog_dump: at %s:%llu: %s\n", (*reader)->position().file.c_str(),
                   static_cast<unsigned long long>(raw.header.log_pos), ev.error().message.c_str());
      return 1;
    }
    std::string what;
    if (const auto* tm = ev->as<TableMap>()) {
      what = tm->database + "." + tm->table + " id " + std::to_string(tm->table_id) + " cols";
      for (const auto& c : tm->columns) what += " " + std::string(column_type_name(c.real_type));
      if (!tm->unsupported.empty()) what += " [" + tm->unsupported + "]";
      tables[tm->table_id] = *tm;
    } else if (const auto* r = ev->as<Rows>()) {
      const auto it = tables.find(r->table_id);
      if (it != tables.end()) {
        std::vector<RowKeys> out;
        const std::vector<KeyColumn> key = {{0, {}}};
        auto n = extract_keys(it->second, *r, key, out);
        if (!n) {
          what = "error: " + n.error().message;
        } else {
          rows += *n;
          what = it->second.table + " v" + std::to_string(r->version) + (r->compressed ? " compressed" : "") + " " +
                 std::to_string(*n) + " rows";
          if (keys)
            for (const auto& rk : out) {
              what += " [";
              if (rk.before) what += (*rk.before)[0].debug();
              what += "->";
              if (rk.after) what += (*rk.after)[0].debug();
              what += "]";
            }
        }
      }
    } else if (const auto* q = ev->as<Query>()) {
      what = q->database + ": " + q->sql.substr(0, 80);
    } else if (const auto* g = ev->as<MariaGtid>()) {
      what = g->text() + (g->is_standalone() ? " standalone" : "") + (g->is_transactional() ? " transactional" : "");
    } else if (const auto* x = ev->as<Xid>()) {
      what = std::to_string(x->xid);
    } else if (const auto* ro = ev->as<Rotate>()) {
      what = ro->next_file + ":" + std::to_string(ro->position);
    } else if (const auto* fd = ev->as<FormatDescription>()) {
      what = fd->server_version + (fd->checksum == Checksum::crc32 ? " CRC32" : " no checksum");
    } else if (const auto* a = ev->as<AnnotateRows>()) {
      what = a->sql.substr(0, 80);
    }
    if (!quiet)
      std::printf("%s:%llu %s %s\n", (*reader)->position().file.c_str(),
                  static_cast<unsigned long long>((*reader)->position().offset),
                  std::string(event_type_name(raw.header.type)).c_str(), what.c_str());
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%llu events, %llu bytes, %llu rows in %.3f s (%.0f MB/s, %.0f rows/s)\n",
               static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
               static_cast<unsigned long long>(rows), s, bytes / s / 1e6, rows / s);
  return 0;
}
