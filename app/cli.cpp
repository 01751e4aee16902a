#include "cli.hpp"
#include "stopping.hpp"

#include "mongo/client.hpp"
#include "mysql/connection.hpp"
#include "ops/status.hpp"
#include "util/error.hpp"
#include "util/text.hpp"
#include "util/trust_store.hpp"

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
  std::vector<std::string> secrets;  // known once the configuration is loaded
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

void emit_json(nlohmann::ordered_json j, int exit_code, const std::vector<std::string>& secrets) {
  // Every document opens with its schema version and carries the exit code (the --json API).
  nlohmann::ordered_json out;
  out["schema_version"] = 1;
  for (auto& [k, v] : j.items())
    if (k != "schema_version" && k != "exit_code") out[k] = std::move(v);
  out["exit_code"] = exit_code;
  const std::string dumped = redact(out.dump(2), secrets);
  std::fwrite(dumped.data(), 1, dumped.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int print_error(const Globals& g, Exit code, const std::string& raw) {
  const std::string message = redact(raw, g.secrets);
  // Under systemd, stderr goes to the journal: the priority prefix makes `journalctl -p err` find it.
  if (std::getenv("JOURNAL_STREAM")) fmt::print(stderr, "<3>{}\n", message);
  else fmt::print(stderr, "mysql2mongo: error: {}\n", message);
  if (g.json) {
    nlohmann::ordered_json j;
    j["status"] = "error";
    j["error"] = message;
    emit_json(j, static_cast<int>(code), g.secrets);
  }
  return static_cast<int>(code);
}

// Levenshtein distance, for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest candidate within a few edits, or nothing.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const auto d = distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

// The short flags of the mysql client, which people type out of habit: what to use instead.
std::optional<std::string> mysql_client_flag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg[1] == '-') return std::nullopt;
  switch (arg[1]) {
    case 'h': return "--mysql-host HOST";
    case 'u': return "--mysql-user USER";
    case 'P': return "--mysql-port PORT";
    case 'S': return "--mysql-socket PATH";
    case 'D': return "--mysql-database NAME";
    case 'V': return "--version";
    default: return std::nullopt;
  }
}

// Every long flag name of the app and its subcommands, and the subcommands' names.
void collect_names(const CLI::App& app, std::vector<std::string>& flags, std::vector<std::string>& commands) {
  for (const auto* opt : app.get_options())
    for (const auto& l : opt->get_lnames()) flags.push_back("--" + l);
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands.push_back(sub->get_name());
    std::vector<std::string> ignored;
    collect_names(*sub, flags, ignored);
  }
}

// Why a command line did not parse, in words that name the fix: an unknown flag or command with the
// closest real one, or CLI11's own message.
std::string explain_usage_error(const CLI::App& app, const std::vector<std::string>& args, const std::string& cli11) {
  std::vector<std::string> flags, commands;
  collect_names(app, flags, commands);
  bool seen_command = false;
  bool value_next = false;
  for (const auto& a : args) {
    if (value_next) {
      value_next = false;
      continue;
    }
    if (a == "--") break;
    if (a.rfind("--", 0) == 0) {
      const std::string name = a.substr(0, a.find('='));
      if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
        if (auto c = closest(name, flags)) return fmt::format("unknown flag {}; did you mean {}?", name, *c);
        return fmt::format("unknown flag {}", name);
      }
      // A flag followed by its value as the next word.
      if (a.find('=') == std::string::npos) {
        const CLI::Option* opt = nullptr;
        for (const auto* sub : std::vector<const CLI::App*>{&app}) opt = sub->get_option_no_throw(name);
        for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
          if (!opt) opt = sub->get_option_no_throw(name);
        value_next = opt && opt->get_type_size_max() > 0 && opt->get_expected_min() > 0;
      }
    } else if (a.size() > 1 && a[0] == '-') {
      if (auto use = mysql_client_flag(a)) return fmt::format("{} is not a flag of mysql2mongo; did you mean {}?", a.substr(0, 2), *use);
      const CLI::Option* opt = app.get_option_no_throw(a.substr(0, 2));
      for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (!opt) opt = sub->get_option_no_throw(a.substr(0, 2));
      value_next = a.size() == 2 && opt && opt->get_type_size_max() > 0 && opt->get_expected_min() > 0;
    } else if (!seen_command) {
      if (std::find(commands.begin(), commands.end(), a) != commands.end()) {
        seen_command = true;
        continue;
      }
      if (auto c = closest(a, commands)) return fmt::format("unknown command '{}'; did you mean '{}'?", a, *c);
      return fmt::format("unknown command '{}'; the commands are {}", a, join(commands, ", "));
    }
  }
  return cli11.empty() ? "a command is required (test-connection, tables, sync, status or verify)" : cli11;
}

std::string version_text() {
  return fmt::format("mysql2mongo {}\n{}\n{}", MYSQL2MONGO_VERSION, mysql::client_library_version(),
                     mongo::driver_version());
}

}  // namespace

void print_json(const Context& ctx, const nlohmann::ordered_json& j, int exit_code) {
  emit_json(j, exit_code, ctx.cfg.secrets);
}

int report_lock_held(const Context& ctx, const Error& e) {
  ctx.log.info("{}", e.what());
  if (ctx.json) {
    nlohmann::ordered_json j;
    j["status"] = "locked";
    j["message"] = e.what();
    print_json(ctx, j, static_cast<int>(Exit::tempfail));
  }
  return static_cast<int>(Exit::tempfail);
}

sync::Selection selection_of(const Context& ctx, const std::string& tables, const std::string& exclude) {
  sync::Selection s;
  s.tables = tables.empty() ? ctx.cfg.sync.tables : split_list(tables);
  s.tables_from_flag = !tables.empty();
  s.exclude = split_list(exclude);
  return s;
}

std::optional<std::chrono::milliseconds> wait_of(const std::optional<std::string>& flag) {
  if (!flag) return std::nullopt;
  if (flag->empty()) return std::chrono::milliseconds::max();
  if (auto d = parse_duration(*flag)) return *d;
  throw Error(Exit::usage, fmt::format("--wait {}: not a duration; use e.g. 30s, 10m or 1h", *flag));
}

std::string Context::redact(std::string_view text) const { return m2m::redact(text, cfg.secrets); }

int run(int argc, char** argv) {
  // Before any thread: TLS connections skip parsing the CA bundle when the hashed directory serves.
  skip_default_ca_bundle();
  CLI::App app{"mysql2mongo keeps a MongoDB database in sync with a MySQL database.\n"
               "Configuration: flags > environment > --env-file > config file > defaults. See mysql2mongo(1).",
               "mysql2mongo"};
  // -h alone asks for help; -h with anything after it is the mysql client's host flag, typed out of
  // habit: CLI11 would print help and exit 0 for it (and cron would report success), so -h is handled
  // here and CLI11 knows only --help (which subcommands inherit).
  app.set_help_flag("--help", "print this help and exit (-h alone does the same)");
  app.set_version_flag("--version", version_text(), "print the version of mysql2mongo and of its client libraries");
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
  add_setting_flag(app, g, "--changes", "sync.changes",
                   "where changes come from: auto, binlog or timestamp (SYNC_CHANGES)", "Sync");
  add_setting_flag(app, g, "--jobs", "sync.jobs",
                   "workers syncing tables and key ranges at once on this host, 1 to 64 (SYNC_JOBS)", "Sync");

  Action action;
  add_test_connection(app, action);
  add_tables(app, action);
  StopToken stop;
  g_stop = &stop;
  add_sync(app, action, &stop);
  add_status(app, action);
  add_verify(app, action, &stop);

  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "-h" && i + 1 == args.size()) {
      args[i] = "--help";
    } else if (args[i].rfind("-h", 0) == 0 || (args[i].size() >= 2 && args[i][0] == '-' && args[i][1] != '-' &&
                                                 mysql_client_flag(args[i]))) {
      const auto use = *mysql_client_flag(args[i]);
      return print_error(g, Exit::usage,
                         fmt::format("{} is not a flag of mysql2mongo; did you mean {}?{}", args[i].substr(0, 2), use,
                                     args[i].substr(0, 2) == "-h" ? " (-h alone shows the help)" : ""));
    }
  }
  try {
    // CLI11 wants the arguments last first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (g.password_flag) return print_error(g, Exit::usage, kPasswordRefusal);
    return print_error(g, Exit::usage, fmt::format("{}; run 'mysql2mongo --help' for usage",
                                                   explain_usage_error(app, args, e.what())));
  }
  if (g.password_flag) return print_error(g, Exit::usage, kPasswordRefusal);
  // Anything redact_uri would hide (a password, a secret option), even in a URL that does not parse.
  if (auto it = g.flags.find("mongodb.url"); it != g.flags.end() && redact_uri(it->second) != it->second) {
    g.secrets = uri_secrets(it->second);
    return print_error(g, Exit::usage, "--mongodb-url must not contain a password (it shows in ps and shell "
                                       "history); set MONGODB_URL, MONGODB_URL_FILE or a systemd credential");
  }

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
    g.secrets = cfg.secrets;
    bootstrap_log.set_secrets(cfg.secrets);
    // The driver's parse of the URL, before any connection or lock.
    mongo::check_url(cfg).or_throw();

    Logger::Options lo;
    lo.stderr_level = cfg.log.level;
    lo.file = g.log_file.value_or(cfg.log.file);
    lo.file_level = std::min(LogLevel::info, cfg.log.level);
    lo.journald = std::getenv("JOURNAL_STREAM") != nullptr;
    Logger log(lo);
    log.set_secrets(cfg.secrets);
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
      fmt::print("{}\n", ops::check_unknown(redact(e.what(), g.secrets)).line);
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
