#include "config/config.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

using namespace m2m;
using config::Inputs;

namespace {

// A temporary directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/m2m-config-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    const auto p = path / name;
    std::ofstream(p) << content;
    return p.string();
  }
};

Inputs base(const TempDir& dir) {
  Inputs in;
  in.default_config_file = (dir.path / "absent.toml").string();
  in.environment = {{"MYSQL_DATABASE", "shop"}};
  return in;
}

// Runs load() and returns the error message (empty if it succeeded); checks the exit code is 78.
std::string config_error(const Inputs& in) {
  try {
    config::load(in);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("defaults apply when nothing is set") {
  TempDir dir;
  const auto cfg = config::load(base(dir));
  CHECK(cfg.mysql.database == "shop");
  CHECK(cfg.mysql.host.empty());
  CHECK(cfg.mysql.port == 0);
  CHECK(cfg.mongodb.url == "mongodb://localhost:27017");
  CHECK(cfg.mongo_database() == "shop");
  CHECK(cfg.sync.batch_size == 1000);
  CHECK(cfg.sync.enabled);
  CHECK(cfg.sync.tables.empty());
  CHECK(cfg.sync.interval == std::chrono::seconds(300));
  CHECK(cfg.mysql.connect_timeout == std::chrono::seconds(10));
  CHECK_FALSE(cfg.mysql.has_password);
}

TEST_CASE("precedence: flags > environment > .env > TOML > defaults, for every source") {
  TempDir dir;
  Inputs in = base(dir);
  in.config_file = dir.write("c.toml", "[mysql]\nhost = \"toml-host\"\nport = 1001\nuser = \"toml-user\"\n"
                                       "[mongodb]\ndatabase = \"toml-db\"\n[sync]\nbatch_size = 11\n");
  SECTION("TOML over defaults") {
    const auto cfg = config::load(in);
    CHECK(cfg.mysql.host == "toml-host");
    CHECK(cfg.mysql.port == 1001);
    CHECK(cfg.mongodb.database == "toml-db");
    CHECK(cfg.sync.batch_size == 11);
    CHECK(cfg.origin.at("mysql.host") == in.config_file.value() + ":2");
  }
  in.env_file = dir.write("x.env", "# comment\nMYSQL_HOST=dotenv-host\nMYSQL_PORT=1002\n"
                                   "MONGODB_DATABASE='dotenv-db'\nSYNC_BATCH_SIZE=\"12\" \n");
  SECTION(".env over TOML") {
    const auto cfg = config::load(in);
    CHECK(cfg.mysql.host == "dotenv-host");
    CHECK(cfg.mysql.port == 1002);
    CHECK(cfg.mysql.user == "toml-user");
    CHECK(cfg.mongodb.database == "dotenv-db");
    CHECK(cfg.sync.batch_size == 12);
    CHECK(cfg.origin.at("mysql.host") == in.env_file.value() + ":2 (MYSQL_HOST)");
  }
  in.environment["MYSQL_HOST"] = "env-host";
  in.environment["SYNC_BATCH_SIZE"] = "13";
  SECTION("environment over .env") {
    const auto cfg = config::load(in);
    CHECK(cfg.mysql.host == "env-host");
    CHECK(cfg.mysql.port == 1002);
    CHECK(cfg.sync.batch_size == 13);
    CHECK(cfg.origin.at("mysql.host") == "MYSQL_HOST (environment)");
  }
  in.flags["mysql.host"] = "flag-host";
  in.flags["sync.batch_size"] = "14";
  SECTION("flags over environment") {
    const auto cfg = config::load(in);
    CHECK(cfg.mysql.host == "flag-host");
    CHECK(cfg.sync.batch_size == 14);
    CHECK(cfg.mysql.port == 1002);
    CHECK(cfg.mysql.user == "toml-user");
    CHECK(cfg.origin.at("mysql.host") == "--mysql-host");
  }
}

TEST_CASE("the seed's environment variables are honoured exactly") {
  TempDir dir;
  Inputs in = base(dir);
  in.environment = {{"MYSQL_HOST", "db.example"}, {"MYSQL_PORT", "3307"}, {"MYSQL_USER", "sync"},
                    {"MYSQL_PASSWORD", "s3cret"}, {"MYSQL_DATABASE", "ecommerce"},
                    {"MONGODB_URL", "mongodb://mongo.example:27018"}, {"MONGODB_DATABASE", "ecominsight"},
                    {"SYNC_INTERVAL", "600"}, {"SYNC_BATCH_SIZE", "5000"}, {"SYNC_ENABLED", "false"},
                    {"SYNC_TABLES", "orders, products,customers"}};
  const auto cfg = config::load(in);
  CHECK(cfg.mysql.host == "db.example");
  CHECK(cfg.mysql.port == 3307);
  CHECK(cfg.mysql.user == "sync");
  CHECK(cfg.mysql.password == "s3cret");
  CHECK(cfg.mysql.has_password);
  CHECK(cfg.mysql.database == "ecommerce");
  CHECK(cfg.mongodb.url == "mongodb://mongo.example:27018");
  CHECK(cfg.mongo_database() == "ecominsight");
  CHECK(cfg.sync.interval == std::chrono::seconds(600));
  CHECK(cfg.sync.batch_size == 5000);
  CHECK_FALSE(cfg.sync.enabled);
  CHECK(cfg.sync.tables == std::vector<std::string>{"orders", "products", "customers"});
  in.environment["SYNC_TABLES"] = "all";
  CHECK(config::load(in).sync.tables.empty());
}

TEST_CASE("password sources") {
  TempDir dir;
  Inputs in = base(dir);
  const auto pwfile = dir.write("pw", "from-file\n");
  SECTION("MYSQL_PASSWORD_FILE, trailing newline stripped") {
    in.environment["MYSQL_PASSWORD_FILE"] = pwfile;
    CHECK(config::load(in).mysql.password == "from-file");
  }
  SECTION("password_file in TOML") {
    in.config_file = dir.write("c.toml", "[mysql]\npassword_file = \"" + pwfile + "\"\n");
    CHECK(config::load(in).mysql.password == "from-file");
  }
  SECTION("environment password beats a TOML password_file") {
    in.config_file = dir.write("c.toml", "[mysql]\npassword_file = \"" + pwfile + "\"\n");
    in.environment["MYSQL_PASSWORD"] = "from-env";
    CHECK(config::load(in).mysql.password == "from-env");
  }
  SECTION("systemd credentials directory") {
    dir.write("mysql_password", "from-credential");
    in.environment["CREDENTIALS_DIRECTORY"] = dir.path.string();
    CHECK(config::load(in).mysql.password == "from-credential");
  }
  SECTION("both at the same level is ambiguous") {
    in.environment["MYSQL_PASSWORD"] = "a";
    in.environment["MYSQL_PASSWORD_FILE"] = pwfile;
    CHECK(config_error(in) == "both MYSQL_PASSWORD (environment) and MYSQL_PASSWORD_FILE (environment) are set; "
                              "keep only one");
  }
  SECTION("unreadable password file names the file, never a secret") {
    in.environment["MYSQL_PASSWORD_FILE"] = (dir.path / "missing").string();
    const auto msg = config_error(in);
    CHECK(msg == "MYSQL_PASSWORD_FILE (environment): " + (dir.path / "missing").string() + ": no such file; check the path");
  }
  SECTION("a password in the TOML file is refused") {
    in.config_file = dir.write("c.toml", "[mysql]\npassword = \"x\"\n");
    CHECK(config_error(in) == in.config_file.value() + ":2: mysql.password is not accepted in a config file; use "
                              "mysql.password_file, MYSQL_PASSWORD or a systemd credential");
  }
}

TEST_CASE("bad configuration values: one line naming the key, where it came from, and the fix") {
  TempDir dir;
  Inputs in = base(dir);
  SECTION("unknown TOML key with its line") {
    in.config_file = dir.write("c.toml", "[mysql]\nhost = \"h\"\nhots = \"x\"\n");
    CHECK(config_error(in) == in.config_file.value() +
                                  ":3: unknown key 'mysql.hots'; see mysql2mongo.toml(5) for the valid keys");
  }
  SECTION("unknown section") {
    in.config_file = dir.write("c.toml", "[mysqll]\nhost = \"h\"\n");
    CHECK(config_error(in).find(":1: unknown key 'mysqll'; valid sections are") != std::string::npos);
  }
  SECTION("wrong type") {
    in.config_file = dir.write("c.toml", "[mysql]\nport = \"3306\"\n");
    CHECK(config_error(in) == in.config_file.value() + ":2: mysql.port must be an integer, not a string");
  }
  SECTION("out of range") {
    in.config_file = dir.write("c.toml", "[sync]\nbatch_size = 0\n");
    CHECK(config_error(in) ==
          in.config_file.value() + ":2: 0 is out of range for sync.batch_size; use a value from 1 to 100000");
    in.config_file.reset();
    in.environment["MYSQL_PORT"] = "70000";
    CHECK(config_error(in) ==
          "MYSQL_PORT (environment): 70000 is out of range for mysql.port; use a value from 1 to 65535");
  }
  SECTION("not a number") {
    in.environment["SYNC_BATCH_SIZE"] = "lots";
    CHECK(config_error(in) == "SYNC_BATCH_SIZE (environment): 'lots' is not a whole number; sync.batch_size "
                              "expects an integer from 1 to 100000");
  }
  SECTION("bad boolean and duration") {
    in.environment["SYNC_ENABLED"] = "maybe";
    CHECK(config_error(in) == "SYNC_ENABLED (environment): 'maybe' is not a boolean; use true or false");
    in.environment.erase("SYNC_ENABLED");
    in.environment["SYNC_INTERVAL"] = "5 minutes";
    CHECK(config_error(in) == "SYNC_INTERVAL (environment): '5 minutes' is not a duration; use e.g. 30s, 5m, 1h "
                              "or a number of seconds");
  }
  SECTION("bad choice") {
    in.environment["MYSQL_SSL_MODE"] = "strict";
    CHECK(config_error(in) == "MYSQL_SSL_MODE (environment): 'strict' is not a valid mysql.ssl_mode; use one of: "
                              "disabled, preferred, required, verify_ca, verify_identity");
  }
  SECTION("malformed MongoDB URL is redacted") {
    in.environment["MONGODB_URL"] = "mongodb://user:hunter2@";
    const auto msg = config_error(in);
    CHECK(msg.find("MONGODB_URL (environment): invalid MongoDB URL mongodb://user:***@") == 0);
    CHECK(msg.find("hunter2") == std::string::npos);
    in.environment["MONGODB_URL"] = "http://localhost";
    CHECK(config_error(in).find("invalid MongoDB URL http://localhost") != std::string::npos);
  }
  SECTION("TOML syntax error with line and column") {
    in.config_file = dir.write("c.toml", "[mysql]\nhost = \n");
    CHECK(config_error(in).find(in.config_file.value() + ":2:") == 0);
  }
  SECTION("missing config file") {
    in.config_file = (dir.path / "nope.toml").string();
    CHECK(config_error(in) == "--config " + in.config_file.value() + ": no such file; check the path");
  }
  SECTION("missing .env file") {
    in.env_file = (dir.path / "nope.env").string();
    CHECK(config_error(in) == "--env-file " + in.env_file.value() + ": no such file; check the path");
  }
  SECTION("malformed .env line") {
    in.env_file = dir.write("x.env", "MYSQL_HOST=h\nthis is not a setting\n");
    CHECK(config_error(in) == in.env_file.value() + ":2: expected KEY=VALUE; fix or remove the line");
  }
  SECTION("no database") {
    in.environment.clear();
    CHECK(config_error(in).find("no MySQL database configured; set MYSQL_DATABASE") == 0);
  }
  SECTION("verify mode without a CA") {
    in.environment["MYSQL_SSL_MODE"] = "verify_identity";
    CHECK(config_error(in) == "MYSQL_SSL_MODE (environment): ssl_mode verify_identity needs a CA to verify against; "
                              "set mysql.ssl_ca (or MYSQL_SSL_CA)");
  }
  SECTION("CA file that does not exist") {
    in.environment["MYSQL_SSL_CA"] = "/nonexistent/ca.pem";
    CHECK(config_error(in) == "MYSQL_SSL_CA (environment): /nonexistent/ca.pem does not exist; check the path");
  }
  SECTION("unknown per-table key") {
    in.config_file = dir.write("c.toml", "[tables.orders]\nchange_colum = \"x\"\n");
    CHECK(config_error(in).find(":2: unknown key tables.orders.change_colum; valid keys are") != std::string::npos);
  }
  SECTION("a bad MongoDB database name") {
    in.environment["MONGODB_DATABASE"] = "my.db";
    CHECK(config_error(in).find("MONGODB_DATABASE (environment): MongoDB database name 'my.db' contains '.'") == 0);
  }
  SECTION("delete fraction above 1") {
    in.config_file = dir.write("c.toml", "[sync]\nmax_delete_fraction = 1.5\n");
    CHECK(config_error(in).find(":2: 1.5 is out of range for sync.max_delete_fraction") != std::string::npos);
  }
}

TEST_CASE("per-table settings are read from the tables.NAME sections") {
  TempDir dir;
  Inputs in = base(dir);
  in.config_file = dir.write("c.toml", "[tables.\"order items\"]\ncollection = \"items\"\nchange_column = \"changed\"\n"
                                       "key_columns = [\"a\", \"b\"]\nexclude_columns = [\"secret\"]\n"
                                       "types = { price = \"string\" }\n");
  const auto cfg = config::load(in);
  const auto& t = cfg.tables.at("order items");
  CHECK(t.collection == "items");
  CHECK(t.change_column == "changed");
  CHECK(t.key_columns == std::vector<std::string>{"a", "b"});
  CHECK(t.exclude_columns == std::vector<std::string>{"secret"});
  CHECK(t.types.at("price") == "string");
}

TEST_CASE("durations accept units and bare seconds in TOML") {
  TempDir dir;
  Inputs in = base(dir);
  in.config_file = dir.write("c.toml", "[mysql]\nconnect_timeout = \"2s\"\n[mongodb]\nconnect_timeout = 3\n"
                                       "[sync]\ninterval = \"1h30m\"\n");
  const auto cfg = config::load(in);
  CHECK(cfg.mysql.connect_timeout == std::chrono::seconds(2));
  CHECK(cfg.mongodb.connect_timeout == std::chrono::seconds(3));
  CHECK(cfg.sync.interval == std::chrono::minutes(90));
}

TEST_CASE("status needs only a MongoDB database") {
  TempDir dir;
  Inputs in = base(dir);
  in.environment = {{"MONGODB_DATABASE", "analytics"}};
  in.needs_mysql = false;
  CHECK(config::load(in).mongo_database() == "analytics");
  in.environment.clear();
  CHECK(config_error(in).find("no database configured; set MONGODB_DATABASE or MYSQL_DATABASE") == 0);
  in.needs_mysql = true;
  in.environment = {{"MONGODB_DATABASE", "analytics"}};
  CHECK(config_error(in).find("no MySQL database configured") == 0);
}

namespace {

// load()'s error as (exit code, message); {0, ""} when it succeeded.
std::pair<int, std::string> load_error(const Inputs& in) {
  try {
    config::load(in);
  } catch (const Error& e) {
    return {static_cast<int>(e.code()), e.what()};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("a wrong flag value is a usage error (64), the same value from a file or the environment is 78") {
  TempDir dir;
  // Every kind of setting a flag can carry: integer, duration, choice, a path, a URL.
  const std::vector<std::tuple<std::string, std::string, std::string, std::string>> cases = {
      {"sync.batch_size", "--batch-size", "SYNC_BATCH_SIZE", "abc"},
      {"sync.batch_size", "--batch-size", "SYNC_BATCH_SIZE", "0"},
      {"mysql.port", "--mysql-port", "MYSQL_PORT", "99999"},
      {"mysql.connect_timeout", "--mysql-connect-timeout", "MYSQL_CONNECT_TIMEOUT", "soon"},
      {"mysql.ssl_mode", "--mysql-ssl-mode", "MYSQL_SSL_MODE", "strict"},
      {"mysql.ssl_ca", "--mysql-ssl-ca", "MYSQL_SSL_CA", "/"},
      {"mongodb.url", "--mongodb-url", "MONGODB_URL", "mongodb://h:port/"},
      {"mongodb.connect_timeout", "--mongodb-connect-timeout", "MONGODB_CONNECT_TIMEOUT", "0"},
      {"sync.jobs", "--jobs", "SYNC_JOBS", "0"},
      {"sync.jobs", "--jobs", "SYNC_JOBS", "65"},
      {"sync.jobs", "--jobs", "SYNC_JOBS", "four"},
      {"sync.changes", "--changes", "SYNC_CHANGES", "bogus"},
  };
  for (const auto& [key, flag, env, value] : cases) {
    INFO(flag << " " << value);
    Inputs in = base(dir);
    in.flags[key] = value;
    in.flag_names[key] = flag;
    auto [code, msg] = load_error(in);
    CHECK(code == 64);
    CHECK(msg.rfind(flag, 0) == 0);
    in = base(dir);
    in.environment[env] = value;
    std::tie(code, msg) = load_error(in);
    CHECK(code == 78);
    CHECK(msg.rfind(env + " (environment)", 0) == 0);
  }
}

TEST_CASE("a file named by a setting must be a readable, regular, non-empty file: one line, exit 78") {
  TempDir dir;
  const std::string a_dir = dir.path.string();
  const std::string empty = dir.write("empty", "");
  const std::string blank = dir.write("blank", "\n\n");
  const std::string device = "/dev/null";
  const std::string missing = (dir.path / "missing").string();
  struct Source {
    std::string name;
    std::function<void(Inputs&, const std::string&)> set;
    std::string prefix;  // how the message starts
    bool may_be_empty;
  };
  const std::vector<Source> sources = {
      {"--config", [](Inputs& in, const std::string& p) { in.config_file = p; }, "--config ", true},
      {"--env-file", [](Inputs& in, const std::string& p) { in.env_file = p; }, "--env-file ", true},
      {"MYSQL_PASSWORD_FILE", [](Inputs& in, const std::string& p) { in.environment["MYSQL_PASSWORD_FILE"] = p; },
       "MYSQL_PASSWORD_FILE (environment): ", true},
      {"MONGODB_URL_FILE", [](Inputs& in, const std::string& p) { in.environment["MONGODB_URL_FILE"] = p; },
       "MONGODB_URL_FILE (environment): ", false},
      {"MYSQL_SSL_CA", [](Inputs& in, const std::string& p) { in.environment["MYSQL_SSL_CA"] = p; },
       "MYSQL_SSL_CA (environment): ", false},
  };
  for (const auto& src : sources) {
    INFO(src.name);
    auto check = [&](const std::string& path, const std::string& problem) {
      INFO(path);
      Inputs in = base(dir);
      src.set(in, path);
      const auto [code, msg] = load_error(in);
      CHECK(code == 78);
      CHECK(msg.rfind(src.prefix, 0) == 0);
      CHECK(msg.find(problem) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
    };
    check(a_dir, ": is a directory; give the path of a file");
    check(device, ": is not a regular file; give the path of a file");
    if (!src.may_be_empty) {
      check(empty, ": is empty; put the value in it, or unset the setting that names it");
      check(blank, ": is empty; put the value in it, or unset the setting that names it");
    }
    if (src.name != "MYSQL_SSL_CA") check(missing, ": no such file; check the path");
  }
  SECTION("systemd credentials: a directory where the credential file should be") {
    Inputs in = base(dir);
    std::filesystem::create_directory(dir.path / "creds");
    std::filesystem::create_directory(dir.path / "creds" / "mysql_password");
    std::filesystem::create_directory(dir.path / "creds" / "mongodb_url");
    in.environment["CREDENTIALS_DIRECTORY"] = (dir.path / "creds").string();
    const auto [code, msg] = load_error(in);
    CHECK(code == 78);
    CHECK(msg == "$CREDENTIALS_DIRECTORY/mysql_password: " + (dir.path / "creds" / "mysql_password").string() +
                     ": is a directory; give the path of a file");
  }
  SECTION("an empty mongodb_url credential") {
    Inputs in = base(dir);
    std::filesystem::create_directory(dir.path / "creds");
    dir.write("creds/mongodb_url", "\n");
    in.environment["CREDENTIALS_DIRECTORY"] = (dir.path / "creds").string();
    const auto [code, msg] = load_error(in);
    CHECK(code == 78);
    CHECK(msg.find("mongodb_url: is empty") != std::string::npos);
  }
  SECTION("an unreadable file (not as root, who reads everything)") {
    if (::geteuid() == 0) return;
    const auto secret = dir.write("locked", "x");
    std::filesystem::permissions(secret, std::filesystem::perms::none);
    Inputs in = base(dir);
    in.environment["MYSQL_PASSWORD_FILE"] = secret;
    const auto [code, msg] = load_error(in);
    CHECK(code == 78);
    CHECK(msg.find("cannot read it: Permission denied") != std::string::npos);
  }
}

TEST_CASE("a malformed MongoDB URL from any source: its own exit code, the secret nowhere in the message") {
  TempDir dir;
  // Each malformation, each with a password in it.
  const std::vector<std::pair<std::string, std::string>> urls = {
      {"muser:SeCr3t@127.0.0.1:27017/", "it must start with mongodb:// or mongodb+srv://"},
      {"mongodb://u:Se?Cr3t@h", "percent-encode them"},
      {"mongodb://u:Se/Cr3t@h/db", "percent-encode them"},
      {"mongodb://u:Se@Cr3t@h", "percent-encode them"},
      {"mongodb://u:SeCr3t@h:port/", "the port of host 'h:port' is not a number from 1 to 65535"},
      {"mongodb://u:SeCr3t@h:0", "is not a number from 1 to 65535"},
      {"mongodb://u:SeCr3t@", "no host"},
      {"mongodb://u:SeCr3t@h,,i", "an empty host"},
      {"mongodb://u:SeCr%zzt@h", "not a percent-encoding"},
      {"mongodb+srv://u:SeCr3t@h1,h2/", "exactly one host name"},
      {"mongodb+srv://u:SeCr3t@h:27017/", "without a port"},
      {"mongodb://u:SeCr3t@h/?tls", "option 'tls' is not name=value"},
      {"mongodb://h/?tlsCertificateKeyFilePassword=SeCr3t&x", "option 'x' is not name=value"},
      {"mongodb://u:SeCr3t@h /", "white space"},
  };
  struct Source {
    std::string name;
    std::function<void(Inputs&, const std::string&)> set;
    int code;
  };
  const std::vector<Source> sources = {
      {"environment", [](Inputs& in, const std::string& u) { in.environment["MONGODB_URL"] = u; }, 78},
      {"env-file", [&](Inputs& in, const std::string& u) { in.env_file = dir.write("s.env", "MONGODB_URL='" + u + "'\n"); }, 78},
      {"TOML", [&](Inputs& in, const std::string& u) { in.config_file = dir.write("c.toml", "[mongodb]\nurl = \"" + u + "\"\n"); }, 78},
      {"URL file", [&](Inputs& in, const std::string& u) { in.environment["MONGODB_URL_FILE"] = dir.write("url", u + "\n"); }, 78},
      {"credential", [&](Inputs& in, const std::string& u) {
         std::filesystem::create_directories(dir.path / "creds");
         dir.write("creds/mongodb_url", u);
         in.environment["CREDENTIALS_DIRECTORY"] = (dir.path / "creds").string();
       }, 78},
      {"flag", [](Inputs& in, const std::string& u) { in.flags["mongodb.url"] = u; in.flag_names["mongodb.url"] = "--mongodb-url"; }, 64},
  };
  for (const auto& src : sources) {
    for (const auto& [url, why] : urls) {
      INFO(src.name << ": " << url);
      Inputs in = base(dir);
      src.set(in, url);
      const auto [code, msg] = load_error(in);
      CHECK(code == src.code);
      CHECK(msg.find("invalid MongoDB URL") != std::string::npos);
      CHECK(msg.find(why) != std::string::npos);
      CHECK(to_lower(msg).find("secr") == std::string::npos);
      CHECK(to_lower(msg).find("cr3t") == std::string::npos);
      std::filesystem::remove_all(dir.path / "creds");
    }
  }
}

TEST_CASE("mongodb.write_concern is checked when the configuration is loaded") {
  TempDir dir;
  for (const std::string bad : {"\"most\"", "\"-1\"", "\"1x\"", "\"\""}) {
    Inputs in = base(dir);
    in.config_file = dir.write("c.toml", "[mongodb]\nwrite_concern = " + bad + "\n");
    const auto [code, msg] = load_error(in);
    CHECK(code == 78);
    CHECK(msg.find(":2: mongodb.write_concern ") != std::string::npos);
    CHECK(msg.find("use \"majority\" or a number of nodes from 0 to 50") != std::string::npos);
  }
  for (const std::string good : {"\"majority\"", "\"1\"", "\"0\""}) {
    Inputs in = base(dir);
    in.config_file = dir.write("c.toml", "[mongodb]\nwrite_concern = " + good + "\n");
    CHECK(load_error(in).first == 0);
  }
}

// The expected values below are systemd's: each follows from the EnvironmentFile= grammar of
// systemd.exec(5) and the parser states that implement it (quoted in mysql2mongo(1), ENVIRONMENT FILES).
// No systemd tool prints what a unit would receive without a running manager, so this table is the
// reference both readers are held to.
TEST_CASE("env files follow systemd's EnvironmentFile= grammar exactly") {
  TempDir dir;
  using Entry = std::tuple<std::string, std::string, int>;
  const std::string file = dir.write("sync.env",
      "# a comment\n"
      "; also a comment\n"
      "   # an indented comment\n"
      "PLAIN=value\n"
      "SPACED  =   padded value   \n"
      "HASH=a#b # not a comment\n"
      "SEMI=x;y\n"
      "SQ='single # \\n \"kept\"  '\n"
      "DQ=\"a \\\"quoted\\\" \\\\ \\$HOME \\` \\n \\x\"\n"
      "MIXED='a'\"b\"c\n"
      "GAP=\"a\"  'b'\n"
      "UNQ_ESC=a\\ b\\\\c\\#d\n"
      "CONT=first \\\n"
      "  second\n"
      "DQCONT=\"one \\\n"
      "two\"\n"
      "MULTI='line1\n"
      "line2'\n"
      "EMPTY=\n"
      "EMPTYQ=\"\"\n"
      "\tTABBED\t=\tv\n"
      "URL=mongodb://u:p%40ss@h/?a=1&b=2\n"
      "LAST=no newline at the end");
  const auto entries = config::parse_env_file(file);
  const std::vector<Entry> expected = {
      {"PLAIN", "value", 4},
      {"SPACED", "padded value", 5},
      {"HASH", "a#b # not a comment", 6},
      {"SEMI", "x;y", 7},
      {"SQ", "single # \\n \"kept\"  ", 8},
      {"DQ", "a \"quoted\" \\ $HOME ` \\n \\x", 9},
      {"MIXED", "abc", 10},
      {"GAP", "ab", 11},
      {"UNQ_ESC", "a b\\c#d", 12},
      {"CONT", "first   second", 13},
      {"DQCONT", "one two", 15},
      {"MULTI", "line1\nline2", 17},
      {"EMPTY", "", 19},
      {"EMPTYQ", "", 20},
      {"TABBED", "v", 21},
      {"URL", "mongodb://u:p%40ss@h/?a=1&b=2", 22},
      {"LAST", "no newline at the end", 23},
  };
  CHECK(entries == expected);

  // What systemd skips silently, or reads differently across versions, is refused with one line.
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"export MYSQL_HOST=db1\n", ":1: 'export' is not part of systemd's EnvironmentFile= syntax"},
      {"MYSQL_HOST db1\n", ":1: expected KEY=VALUE"},
      {"1ABC=x\n", ":1: '1ABC' is not a variable name"},
      {"MY-HOST=x\n", ":1: 'MY-HOST' is not a variable name"},
      {"A='open\n", ":1: unterminated quote in the value of A"},
      {"A=\"open\\\"\n", ":1: unterminated quote in the value of A"},
      {"# comment \\\nA=1\n", ":1: a comment ends in '\\'"},
  };
  for (const auto& [text, message] : refused) {
    INFO(text);
    Inputs in = base(dir);
    in.env_file = dir.write("bad.env", text);
    const auto [code, msg] = load_error(in);
    CHECK(code == 78);
    CHECK(msg.rfind(in.env_file.value() + message, 0) == 0);
  }
}

TEST_CASE("work units: sync.jobs, sync.split_rows and sync.unit_ttl, their defaults and ranges", "[config][units]") {
  TempDir dir;
  {
    const auto cfg = config::load(base(dir));
    CHECK(cfg.sync.jobs == 1);
    CHECK(cfg.sync.split_rows == 2'000'000);
    CHECK(cfg.sync.unit_ttl == std::chrono::seconds(60));
  }
  {
    Inputs in = base(dir);
    in.environment["SYNC_JOBS"] = "4";
    in.config_file = dir.write("u.toml", "[sync]\njobs = 2\nsplit_rows = 500\nunit_ttl = \"3s\"\n");
    const auto cfg = config::load(in);
    CHECK(cfg.sync.jobs == 4);  // the environment over the file
    CHECK(cfg.sync.split_rows == 500);
    CHECK(cfg.sync.unit_ttl == std::chrono::seconds(3));
    CHECK(cfg.origin.at("sync.jobs") == "SYNC_JOBS (environment)");
  }
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"jobs = 0", "0 is out of range for sync.jobs; use a value from 1 to 64"},
           {"jobs = 65", "65 is out of range for sync.jobs; use a value from 1 to 64"},
           {"split_rows = 99", "99 is out of range for sync.split_rows; use a value from 100 to 1000000000000"},
           {"unit_ttl = \"500ms\"", "out of range for sync.unit_ttl; use a duration from 1s to 1h"},
       }) {
    INFO(text);
    Inputs in = base(dir);
    in.config_file = dir.write("bad.toml", "[sync]\n" + text + "\n");
    const auto msg = config_error(in);
    CHECK(msg.find(expected) != std::string::npos);
    CHECK(msg.find("bad.toml:2: ") != std::string::npos);
  }
}

TEST_CASE("binlog and verify settings and a table's changes: defaults, and every wrong value one line with exit 78",
          "[config][binlog][verify]") {
  TempDir dir;
  {
    const auto cfg = config::load(base(dir));
    CHECK(cfg.sync.changes == config::Changes::automatic);
    CHECK(cfg.binlog.server_id == 0);  // derived at run time
    CHECK(cfg.verify.max_keys == 100);
    CHECK(cfg.verify.settle == std::chrono::seconds(2));
  }
  {
    Inputs in = base(dir);
    in.config_file = dir.write("ok.toml",
                               "[sync]\nchanges = \"timestamp\"\n[binlog]\nserver_id = 4242\nmax_events = 10\n"
                               "max_seconds = \"5s\"\n[verify]\nsettle = \"0s\"\nmax_keys = 0\n"
                               "[tables.orders]\nchanges = \"binlog\"\n");
    const auto cfg = config::load(in);
    CHECK(cfg.sync.changes == config::Changes::timestamp);
    CHECK(cfg.binlog.server_id == 4242);
    CHECK(cfg.binlog.max_events == 10);
    CHECK(cfg.binlog.max_seconds == std::chrono::seconds(5));
    CHECK(cfg.verify.settle == std::chrono::milliseconds(0));
    CHECK(cfg.verify.max_keys == 0);
  }
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"[sync]\nchanges = \"log\"", "'log' is not a valid sync.changes; use one of: auto, binlog, timestamp"},
           {"[binlog]\nserver_id = 1", "1 is out of range for binlog.server_id; use a value from 2 to 4294967295"},
           {"[binlog]\nmax_events = 0", "0 is out of range for binlog.max_events"},
           {"[binlog]\nmax_seconds = \"10ms\"", "out of range for binlog.max_seconds"},
           {"[verify]\nsettle = \"2h\"", "out of range for verify.settle"},
           {"[verify]\nmax_keys = -1", "-1 is out of range for verify.max_keys; use a value from 0 to 10000"},
           {"[tables.orders]\nchanges = \"x\"", "tables.orders.changes 'x' is not valid; use auto, binlog or timestamp"},
       }) {
    INFO(text);
    Inputs in = base(dir);
    in.config_file = dir.write("bad.toml", text + "\n");
    const auto msg = config_error(in);
    CHECK(msg.find(expected) != std::string::npos);
    CHECK(msg.find("bad.toml:2: ") != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}
