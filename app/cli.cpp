#include "cli.hpp"
#include "stopping.hpp"

#include "mongo/client.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace m2m::app {

namespace {

// The one piece of process-wide state: a signal handler can reach nothing else. The library sees it only
// as the stop token it is handed.
StopToken* g_stop = nullptr;

extern "C" void on_stop_signal(int signo) {
  if (g_stop == nullptr || g_stop->signal() != 0) {
    // A second signal: the operator insists. Die the default way, now.
    std::signal(signo, SIG_DFL);
    std::raise(signo);
    return;
  }
  g_stop->request_signal(signo);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

constexpr const char* kPasswordRefusal =
    "passwords are not accepted as command-line values (they show in ps and shell history); set "
    "MYSQL_PASSWORD or MYSQL_PASSWORD_FILE, mysql.password_file in the config file, or a systemd credential";

struct Globals {
  std::optional<std::string> config_file;
  std::optional<std::string> env_file;
  std::optional<std::string> log_file;
  int verbose = 0;
  bool quiet = false;
  bool json = false;
  std::map<std::string, std::string> flags;  // setting key -> value
  std::map<std::string, std::string> flag_names;  // setting key -> the flag's name
  bool password_flag = false;
};

// A flag that sets a config setting: "--mysql-host" -> "mysql.host".
void add_setting_flag(CLI::App& app, Globals& g, const std::string& name, const std::string& key,
                      const std::string& help, const std::string& group) {
  g.flag_names[key] = name;
  app.add_option_function<std::string>(
         name, [&g, key](const std::string& v) { g.flags[key] = v; }, help)
      ->group(group)
      ->type_name("VALUE");
}

int print_error(const Globals& g, Exit code, const std::string& message) {
  // Under systemd, stderr goes to the journal: the priority prefix makes `journalctl -p err` find it.
  if (std::getenv("JOURNAL_STREAM")) fmt::print(stderr, "<3>{}\n", message);
  else fmt::print(stderr, "mysql2mongo: error: {}\n", message);
  if (g.json) {
    nlohmann::ordered_json j;
    j["status"] = "error";
    j["error"] = message;
    j["exit_code"] = static_cast<int>(code);
    print_json(j.dump(2));
  }
  return static_cast<int>(code);
}

}  // namespace

void print_json(const std::string& dumped) {
  std::fwrite(dumped.data(), 1, dumped.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  CLI::App app{"mysql2mongo keeps a MongoDB database in sync with a MySQL database.\n"
               "Configuration: flags > environment > --env-file > config file > defaults. See mysql2mongo(1).",
               "mysql2mongo"};
  app.set_version_flag("--version", std::string("mysql2mongo ") + MYSQL2MONGO_VERSION);
  app.require_subcommand(1);
  // Global options are accepted before or after the subcommand.
  app.fallthrough();

  // The driver must never print on its own (its default handler writes to stdout): install ours first.
  Logger bootstrap_log;
  mongo::Library mongoc(&bootstrap_log);

  Globals g;
  const std::string general = "General";
  app.add_option("-c,--config", g.config_file, "TOML config file (default /etc/mysql2mongo/config.toml if it exists)")
      ->group(general)->type_name("FILE");
  app.add_option("--env-file", g.env_file, "read KEY=VALUE settings (MYSQL_HOST, ...) from FILE")
      ->group(general)->type_name("FILE");
  app.add_flag("-v,--verbose", g.verbose, "log more: -v info, -vv debug")->group(general);
  app.add_flag("-q,--quiet", g.quiet, "log errors only")->group(general);
  app.add_option("--log-file", g.log_file, "also append log lines to FILE")->group(general)->type_name("FILE");
  app.add_flag("--json", g.json, "print one JSON document on stdout")->group(general);

  const std::string my = "MySQL";
  add_setting_flag(app, g, "--mysql-host", "mysql.host", "MySQL host (MYSQL_HOST)", my);
  add_setting_flag(app, g, "--mysql-port", "mysql.port", "MySQL port (MYSQL_PORT)", my);
  add_setting_flag(app, g, "--mysql-socket", "mysql.socket", "MySQL Unix socket (MYSQL_SOCKET)", my);
  add_setting_flag(app, g, "--mysql-user", "mysql.user", "MySQL user (MYSQL_USER)", my);
  add_setting_flag(app, g, "--mysql-database", "mysql.database", "MySQL database to sync (MYSQL_DATABASE)", my);
  add_setting_flag(app, g, "--mysql-ssl-mode", "mysql.ssl_mode",
                   "disabled, preferred, required, verify_ca or verify_identity (MYSQL_SSL_MODE)", my);
  add_setting_flag(app, g, "--mysql-ssl-ca", "mysql.ssl_ca", "CA file for verifying the server (MYSQL_SSL_CA)", my);
  add_setting_flag(app, g, "--mysql-connect-timeout", "mysql.connect_timeout", "e.g. 10s (MYSQL_CONNECT_TIMEOUT)", my);
  // Declared only to refuse them with a useful message instead of "unknown option".
  for (const char* name : {"-p,--password", "--mysql-password"}) {
    app.add_option_function<std::string>(name, [&g](const std::string&) { g.password_flag = true; })
        ->group("")
        ->expected(0, 1);
  }

  const std::string mg = "MongoDB";
  add_setting_flag(app, g, "--mongodb-url", "mongodb.url", "MongoDB URL without a password (MONGODB_URL)", mg);
  add_setting_flag(app, g, "--mongodb-database", "mongodb.database", "MongoDB database (MONGODB_DATABASE)", mg);
  add_setting_flag(app, g, "--mongodb-connect-timeout", "mongodb.connect_timeout", "e.g. 10s (MONGODB_CONNECT_TIMEOUT)", mg);

  add_setting_flag(app, g, "--batch-size", "sync.batch_size", "rows per bulk write, 1 to 100000 (SYNC_BATCH_SIZE)",
                   "Sync");

  Action action;
  add_test_connection(app, action);
  add_tables(app, action);
  StopToken stop;
  g_stop = &stop;
  add_sync(app, action, &stop);
  add_status(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (g.password_flag) return print_error(g, Exit::usage, kPasswordRefusal);
    std::string what = e.what();
    if (what.empty()) what = "a subcommand is required";
    return print_error(g, Exit::usage, fmt::format("{}; run 'mysql2mongo --help' for usage", what));
  }
  if (g.password_flag) return print_error(g, Exit::usage, kPasswordRefusal);
  if (auto it = g.flags.find("mongodb.url"); it != g.flags.end() && redact_uri(it->second) != it->second)
    return print_error(g, Exit::usage, "--mongodb-url must not contain a password (it shows in ps and shell "
                                       "history); set MONGODB_URL, MONGODB_URL_FILE or a systemd credential");

  try {
    config::Inputs inputs;
    inputs.config_file = g.config_file;
    inputs.env_file = g.env_file;
    inputs.environment = config::environment_snapshot();
    inputs.flags = g.flags;
    inputs.flag_names = g.flag_names;
    if (g.quiet) inputs.log_level = LogLevel::error;
    else if (g.verbose >= 2) inputs.log_level = LogLevel::debug;
    else if (g.verbose == 1) inputs.log_level = LogLevel::info;
    if (g.log_file) inputs.flags.erase("log.file");
    inputs.needs_mysql = !app.got_subcommand("status");
    const config::Config cfg = config::load(inputs);

    Logger::Options lo;
    lo.stderr_level = cfg.log.level;
    lo.file = g.log_file.value_or(cfg.log.file);
    lo.file_level = std::min(LogLevel::info, cfg.log.level);
    lo.journald = std::getenv("JOURNAL_STREAM") != nullptr;
    Logger log(lo);
    mongoc.set_logger(&log);
    Context ctx{cfg, log, g.json, g.quiet};
    install_signal_handlers();
    StopWatchdog watchdog(stop, log);
    int code = action(ctx);
    watchdog.finished();
    // Stopped by a signal after saving progress: the conventional 128+signal codes.
    if (const int sig = stop.signal(); sig != 0) {
      log.warn("stopped by {} after saving progress", signal_name(sig));
      code = exit_code_for_stop(stop, code);
    }
    mongoc.set_logger(&bootstrap_log);
    return code;
  } catch (const Error& e) {
    mongoc.set_logger(&bootstrap_log);
    // A monitoring check reports whatever keeps it from looking (even a bad config) as UNKNOWN; a
    // wrong command line stays a usage error, so whoever set up the check sees it at once.
    if (auto* status = app.get_subcommand("status");
        e.code() != Exit::usage && status->parsed() && status->count("--check")) {
      fmt::print("MYSQL2MONGO UNKNOWN - {}\n", e.what());
      return 3;
    }
    // Stopped by a signal while waiting (for the lock, say): that is what the exit code must say.
    if (const int sig = stop.signal(); sig != 0)
      return print_error(g, static_cast<Exit>(exit_code_for_stop(stop, static_cast<int>(e.code()))),
                         fmt::format("stopped by {} ({})", signal_name(sig), e.what()));
    return print_error(g, e.code(), e.what());
  } catch (const std::exception& e) {
    mongoc.set_logger(&bootstrap_log);
    return print_error(g, Exit::internal, fmt::format("internal error: {}; please report it", e.what()));
  }
}

}  // namespace m2m::app
