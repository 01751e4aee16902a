#include "cli.hpp"
#include "ops/test_connection.hpp"

#include <fmt/format.h>

namespace m2m::app {

void add_test_connection(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("test-connection", "connect to MySQL and MongoDB and list the tables");
  cmd->callback([&action] {
    action = [](Context& ctx) {
      const auto r = ops::test_connection(ctx.cfg, ctx.log);
      if (ctx.json) {
        print_json(ctx, ops::to_json(r), static_cast<int>(r.exit_code()));
      } else {
        if (r.mysql_connected)
          fmt::print("MySQL    ok: {} on {} (server {}{}), {} tables{}\n", r.database, r.host, r.mysql_version,
                     r.mysql_tls_cipher.empty() ? ", no TLS" : ", TLS " + r.mysql_tls_cipher, r.tables.size(),
                     r.views.empty() ? "" : fmt::format(", {} views", r.views.size()));
        else
          fmt::print("MySQL    FAILED: {}\n", ctx.redact(r.mysql_error ? r.mysql_error->message : ""));
        if (r.mongodb_reachable)
          fmt::print("MongoDB  ok: {} at {} (server {})\n", r.mongodb_database, r.mongodb_url, r.mongodb_version);
        else
          fmt::print("MongoDB  FAILED: {}\n", ctx.redact(r.mongodb_error ? r.mongodb_error->message : ""));
        if (!r.tables.empty()) fmt::print("Tables:  {}\n", fmt::join(r.tables, ", "));
      }
      if (r.mysql_error) ctx.log.error("{}", r.mysql_error->message);
      if (r.mongodb_error) ctx.log.error("{}", r.mongodb_error->message);
      return static_cast<int>(r.exit_code());
    };
  });
}

}  // namespace m2m::app
