#include "config/config.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/stat.h>
#include <variant>

extern char** environ;

namespace m2m::config {

std::string_view to_string(Changes c) {
  switch (c) {
    case Changes::automatic: return "auto";
    case Changes::binlog: return "binlog";
    case Changes::timestamp: return "timestamp";
  }
  return "auto";
}

std::string_view to_string(SslMode mode) {
  switch (mode) {
    case SslMode::disabled: return "disabled";
    case SslMode::preferred: return "preferred";
    case SslMode::required: return "required";
    case SslMode::verify_ca: return "verify_ca";
    case SslMode::verify_identity: return "verify_identity";
  }
  return "?";
}

namespace {

using Value = std::variant<std::string, std::int64_t, bool, double, std::vector<std::string>>;

// Where a raw value came from, ranked by precedence (higher wins).
enum class Rank { defaults = 0, toml = 1, dotenv = 2, env = 3, flag = 4 };

struct Raw {
  Value value;
  Rank rank;
  std::string where;  // "MYSQL_PORT (environment)", "/etc/mysql2mongo/config.toml:7", "--mysql-port"
};

enum class Kind { string, integer, boolean, duration, list, fraction };

struct Setting {
  std::string_view key;   // dotted TOML key
  Kind kind;
  std::string_view env;   // environment / .env variable, or empty
  bool flag;              // settable by a flag
  std::int64_t min = 0, max = 0;  // integer range, duration range in ms
  std::vector<std::string_view> choices = {};  // allowed string values, if any
};

// Every setting the tool knows. The TOML file, the environment and the flags can only set these.
const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"mysql.host", Kind::string, "MYSQL_HOST", true},
      {"mysql.port", Kind::integer, "MYSQL_PORT", true, 1, 65535},
      {"mysql.socket", Kind::string, "MYSQL_SOCKET", true},
      {"mysql.user", Kind::string, "MYSQL_USER", true},
      {"mysql.password", Kind::string, "MYSQL_PASSWORD", false},
      {"mysql.password_file", Kind::string, "MYSQL_PASSWORD_FILE", false},
      {"mysql.database", Kind::string, "MYSQL_DATABASE", true},
      {"mysql.connect_timeout", Kind::duration, "MYSQL_CONNECT_TIMEOUT", true, 1000, 3'600'000},
      {"mysql.read_timeout", Kind::duration, "", false, 1000, 86'400'000},
      {"mysql.ssl_mode", Kind::string, "MYSQL_SSL_MODE", true, 0, 0,
       {"disabled", "preferred", "required", "verify_ca", "verify_identity"}},
      {"mysql.ssl_ca", Kind::string, "MYSQL_SSL_CA", true},
      {"mysql.ssl_cert", Kind::string, "MYSQL_SSL_CERT", false},
      {"mysql.ssl_key", Kind::string, "MYSQL_SSL_KEY", false},
      {"mysql.option_file", Kind::string, "", false},
      {"mysql.option_group", Kind::string, "", false},
      {"mongodb.url", Kind::string, "MONGODB_URL", true},
      {"mongodb.url_file", Kind::string, "MONGODB_URL_FILE", false},
      {"mongodb.database", Kind::string, "MONGODB_DATABASE", true},
      {"mongodb.connect_timeout", Kind::duration, "MONGODB_CONNECT_TIMEOUT", true, 1000, 3'600'000},
      {"mongodb.write_concern", Kind::string, "", false},
      {"sync.enabled", Kind::boolean, "SYNC_ENABLED", false},
      {"sync.interval", Kind::duration, "SYNC_INTERVAL", false, 1000, 31 * 86'400'000LL},
      {"sync.batch_size", Kind::integer, "SYNC_BATCH_SIZE", true, 1, 100'000},
      {"sync.batch_bytes", Kind::integer, "", false, 1024 * 1024, 48 * 1000 * 1000},
      {"sync.tables", Kind::list, "SYNC_TABLES", true},
      {"sync.exclude", Kind::list, "SYNC_EXCLUDE", true},
      {"sync.include_views", Kind::boolean, "", false},
      {"sync.max_delete_fraction", Kind::fraction, "", false},
      {"sync.key_as_id", Kind::boolean, "", false},
      {"sync.index_foreign_keys", Kind::boolean, "", false},
      {"sync.collection_prefix", Kind::string, "", false},
      {"sync.tinyint1_as_bool", Kind::boolean, "", false},
      {"sync.zero_date", Kind::string, "", false, 0, 0, {"null", "string"}},
      {"sync.lookback", Kind::duration, "", false, 1000, 86'400'000},
      {"sync.reconcile_every", Kind::integer, "", false, 0, 1'000'000},
      {"sync.lock_ttl", Kind::duration, "", false, 10'000, 86'400'000},
      {"sync.jobs", Kind::integer, "SYNC_JOBS", true, 1, 64},
      {"sync.split_rows", Kind::integer, "", false, 100, 1'000'000'000'000LL},
      {"sync.unit_ttl", Kind::duration, "", false, 1000, 3'600'000},
      {"sync.retry_for", Kind::duration, "SYNC_RETRY_FOR", false, 0, 86'400'000},
      {"sync.drop_orphans", Kind::boolean, "", false},
      {"sync.changes", Kind::string, "SYNC_CHANGES", true, 0, 0, {"auto", "binlog", "timestamp"}},
      {"binlog.server_id", Kind::integer, "", false, 2, 4'294'967'295LL},
      {"binlog.max_events", Kind::integer, "", false, 1, 1'000'000'000},
      {"binlog.max_seconds", Kind::duration, "", false, 1000, 3'600'000},
      {"log.level", Kind::string, "", false, 0, 0, {"debug", "info", "warning", "error", "off"}},
      {"log.file", Kind::string, "", false},
      {"verify.settle", Kind::duration, "", false, 0, 3'600'000},
      {"verify.max_keys", Kind::integer, "", false, 0, 10'000},
  };
  return all;
}

const Setting* find_setting(std::string_view key) {
  for (const auto& s : settings())
    if (s.key == key) return &s;
  return nullptr;
}

[[noreturn]] void fail(const std::string& message) { throw Error(Exit::config, message); }

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::string: return "a string";
    case Kind::integer: return "an integer";
    case Kind::boolean: return "true or false";
    case Kind::duration: return "a duration such as \"30s\", \"5m\" or a number of seconds";
    case Kind::list: return "a list of names";
    case Kind::fraction: return "a number between 0 and 1";
  }
  return "?";
}

// Turns a textual value (environment, .env, flag) into the setting's type.
Value parse_text(const Setting& s, const std::string& text, const std::string& where) {
  switch (s.kind) {
    case Kind::string: return text;
    case Kind::integer: {
      auto v = parse_int(text);
      if (!v) fail(fmt::format("{}: '{}' is not a whole number; {} expects {} from {} to {}", where, text,
                               s.key, kind_name(s.kind), s.min, s.max));
      return *v;
    }
    case Kind::boolean: {
      auto v = parse_bool(text);
      if (!v) fail(fmt::format("{}: '{}' is not a boolean; use true or false", where, text));
      return *v;
    }
    case Kind::duration: {
      auto v = parse_duration(text);
      if (!v) fail(fmt::format("{}: '{}' is not a duration; use e.g. 30s, 5m, 1h or a number of seconds",
                               where, text));
      return static_cast<std::int64_t>(v->count());
    }
    case Kind::list: {
      if (to_lower(trim(text)) == "all") return std::vector<std::string>{};
      return split_list(text);
    }
    case Kind::fraction: {
      char* end = nullptr;
      errno = 0;
      const double d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0)
        fail(fmt::format("{}: '{}' is not a number; {} expects {}", where, text, s.key, kind_name(s.kind)));
      return d;
    }
  }
  return text;
}

// Checks the ranges and choices of a typed value.
void validate(const Setting& s, const Value& v, const std::string& where) {
  if (s.kind == Kind::integer) {
    const auto n = std::get<std::int64_t>(v);
    if (n < s.min || n > s.max)
      fail(fmt::format("{}: {} is out of range for {}; use a value from {} to {}", where, n, s.key, s.min, s.max));
  } else if (s.kind == Kind::duration) {
    const auto ms = std::get<std::int64_t>(v);
    if (ms < s.min || ms > s.max)
      fail(fmt::format("{}: {} is out of range for {}; use a duration from {} to {}", where,
                       format_duration(std::chrono::milliseconds(ms)), s.key,
                       format_duration(std::chrono::milliseconds(s.min)),
                       format_duration(std::chrono::milliseconds(s.max))));
  } else if (s.kind == Kind::fraction) {
    const auto d = std::get<double>(v);
    if (!(d >= 0.0 && d <= 1.0))
      fail(fmt::format("{}: {} is out of range for {}; use a number from 0 to 1 (0.5 = half the collection)",
                       where, d, s.key));
  } else if (s.kind == Kind::string && !s.choices.empty()) {
    const auto& text = std::get<std::string>(v);
    bool ok = false;
    std::vector<std::string> names;
    for (auto c : s.choices) {
      names.emplace_back(c);
      if (text == c) ok = true;
    }
    if (!ok) fail(fmt::format("{}: '{}' is not a valid {}; use one of: {}", where, text, s.key, join(names, ", ")));
  }
}

std::string toml_where(const std::string& file, const toml::node& node) {
  return fmt::format("{}:{}", file, node.source().begin.line);
}

// Converts a TOML node to the setting's type, accepting only what makes sense for it.
Value from_toml(const Setting& s, const toml::node& node, const std::string& where) {
  auto wrong = [&]() -> Value {
    fail(fmt::format("{}: {} must be {}, not a {}", where, s.key, kind_name(s.kind),
                     std::string(toml::impl::node_type_friendly_names[static_cast<int>(node.type())])));
  };
  switch (s.kind) {
    case Kind::string:
      if (auto v = node.value<std::string>(); v && node.is_string()) return *v;
      return wrong();
    case Kind::integer:
      if (node.is_integer()) return *node.value<std::int64_t>();
      return wrong();
    case Kind::boolean:
      if (node.is_boolean()) return *node.value<bool>();
      return wrong();
    case Kind::duration:
      if (node.is_integer()) {
        const auto secs = *node.value<std::int64_t>();
        if (secs < 0 || secs > INT64_MAX / 1000) return wrong();
        return secs * 1000;
      }
      if (node.is_string()) return parse_text(s, *node.value<std::string>(), where);
      return wrong();
    case Kind::list:
      if (node.is_string()) return parse_text(s, *node.value<std::string>(), where);
      if (const auto* arr = node.as_array()) {
        std::vector<std::string> out;
        for (const auto& el : *arr) {
          if (!el.is_string()) fail(fmt::format("{}: {} must be a list of strings", toml_where(where, el), s.key));
          out.push_back(*el.value<std::string>());
        }
        return out;
      }
      return wrong();
    case Kind::fraction:
      if (node.is_floating_point() || node.is_integer()) return *node.value<double>();
      return wrong();
  }
  return wrong();
}

// A file named by a setting or a flag: it must be a regular file this process can read, and not empty
// unless `allow_empty`. One line naming what named it, the path, the problem and the fix.
std::string read_named_file(const std::string& path, const std::string& what, bool allow_empty, Exit code = Exit::config) {
  auto bad = [&](const std::string& problem) -> std::string {
    throw Error(code, fmt::format("{} {}: {}", what, path, problem));
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) bad("no such file; check the path");
    bad(fmt::format("cannot read it: {}; check the path and its permissions", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) bad("is a directory; give the path of a file");
  if (!S_ISREG(st.st_mode)) bad("is not a regular file; give the path of a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) bad(fmt::format("cannot read it: {}; check its permissions", std::strerror(errno)));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) bad(fmt::format("cannot read it: {}; check the file", std::strerror(errno)));
  std::string content = ss.str();
  if (!allow_empty && trim(content).empty()) bad("is empty; put the value in it, or unset the setting that names it");
  return content;
}

// A secret's file (MYSQL_PASSWORD_FILE, MONGODB_URL_FILE, a systemd credential).
std::string read_secret_file(const std::string& path, const std::string& what, bool allow_empty) {
  std::string s = read_named_file(path, what + ":", allow_empty);
  // Files written by editors and `echo` end in a newline that is not part of the secret.
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_variable_name(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Reads an env file with the grammar of systemd's EnvironmentFile= (systemd.exec(5); the states of its
// parser, written out in mysql2mongo(1), ENVIRONMENT FILES), because one sync.env is read both by the
// units and by --env-file and must mean the same to both:
//   - a line whose first non-blank character is '#' or ';' is a comment; '#' anywhere else is data;
//   - KEY=VALUE, blanks around KEY and before VALUE dropped, trailing blanks of an unquoted VALUE too;
//   - unquoted, '\' takes the next character literally, and '\' at the end of a line joins the next;
//   - '...' keeps everything literally; "..." unescapes \" \\ \` \$, keeps '\' before anything else,
//     and joins lines on '\' + newline; quotes may span lines; quoted and unquoted parts concatenate.
// Where systemd would skip a line silently (no '=', a name that is not a variable name such as
// "export KEY", an unterminated quote) or where its versions disagree (a comment ending in '\': before
// v254 it swallows the next line), this refuses the file instead (exit 78), so both readers agree on
// every file the tool accepts.
std::vector<std::tuple<std::string, std::string, int>> parse_dotenv(const std::string& path) {
  const std::string text = read_named_file(path, "--env-file", true);
  std::vector<std::tuple<std::string, std::string, int>> out;
  enum class St { pre_key, key, pre_value, value, value_escape, squote, dquote, dquote_escape, comment } st = St::pre_key;
  std::string key, value;
  std::size_t key_blank = std::string::npos, value_blank = std::string::npos;
  int line = 1, key_line = 1;
  auto newline = [](char c) { return c == '\n' || c == '\r'; };
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto emit = [&](bool chomp) {
    if (key_blank != std::string::npos) key.resize(key_blank);
    if (chomp && value_blank != std::string::npos) value.resize(value_blank);
    if (key.rfind("export", 0) == 0 && key.size() > 6 && blank(key[6]))
      fail(fmt::format("{}:{}: 'export' is not part of systemd's EnvironmentFile= syntax (systemd ignores this line); "
                       "remove 'export '", path, key_line));
    if (!is_variable_name(key))
      fail(fmt::format("{}:{}: '{}' is not a variable name (letters, digits and '_', not starting with a digit); "
                       "fix or remove the line", path, key_line, key));
    out.emplace_back(key, value, key_line);
    key.clear();
    value.clear();
    key_blank = value_blank = std::string::npos;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (st) {
      case St::pre_key:
        if (c == '#' || c == ';') {
          st = St::comment;
        } else if (!blank(c)) {
          st = St::key;
          key.assign(1, c);
          key_line = line;
        }
        break;
      case St::comment:
        if (c == '\\' && i + 1 < text.size() && newline(text[i + 1]))
          fail(fmt::format("{}:{}: a comment ends in '\\', which systemd versions read differently (before v254 it "
                           "also comments out the next line); remove the '\\'", path, line));
        if (newline(c)) st = St::pre_key;
        break;
      case St::key:
        if (newline(c)) {
          fail(fmt::format("{}:{}: expected KEY=VALUE; fix or remove the line", path, key_line));
        } else if (c == '=') {
          st = St::pre_value;
        } else {
          if (!blank(c)) key_blank = std::string::npos;
          else if (key_blank == std::string::npos) key_blank = key.size();
          key += c;
        }
        break;
      case St::pre_value:
        if (newline(c)) {
          emit(false);
          st = St::pre_key;
        } else if (c == '\'') {
          st = St::squote;
        } else if (c == '"') {
          st = St::dquote;
        } else if (c == '\\') {
          st = St::value_escape;
        } else if (!blank(c)) {
          st = St::value;
          value += c;
        }
        break;
      case St::value:
        if (newline(c)) {
          emit(true);
          st = St::pre_key;
        } else if (c == '\\') {
          st = St::value_escape;
          value_blank = std::string::npos;
        } else {
          if (!blank(c)) value_blank = std::string::npos;
          else if (value_blank == std::string::npos) value_blank = value.size();
          value += c;
        }
        break;
      case St::value_escape:
        st = St::value;
        if (!newline(c)) value += c;  // '\' + newline joins the lines
        break;
      case St::squote:
        if (c == '\'') st = St::pre_value;
        else value += c;
        break;
      case St::dquote:
        if (c == '"') st = St::pre_value;
        else if (c == '\\') st = St::dquote_escape;
        else value += c;
        break;
      case St::dquote_escape:
        st = St::dquote;
        if (c == '"' || c == '\\' || c == '`' || c == '$') value += c;
        else if (c != '\n') value += std::string{'\\', c};
        break;
    }
    if (c == '\n') ++line;
  }
  switch (st) {
    case St::key: fail(fmt::format("{}:{}: expected KEY=VALUE; fix or remove the line", path, key_line));
    case St::squote:
    case St::dquote:
    case St::dquote_escape:
      fail(fmt::format("{}:{}: unterminated quote in the value of {}", path, key_line, key));
    case St::pre_value: emit(false); break;
    case St::value:
    case St::value_escape: emit(true); break;
    default: break;
  }
  return out;
}

// The syntax of a MongoDB URL, without the driver (config sits below mongo/; mongo::check_url adds the
// driver's own parse right after load). The value is shown only through redact_uri.
void check_mongo_url(const std::string& url, const std::string& where, Exit code) {
  auto bad = [&](const std::string& why) {
    throw Error(code, fmt::format("{}: invalid MongoDB URL {}: {}; use "
                                  "mongodb://[user@]host[:port][,host...][/database][?options]",
                                  where, redact_uri(url), why));
  };
  std::string_view rest(url);
  bool srv = false;
  if (rest.substr(0, 10) == "mongodb://") rest.remove_prefix(10);
  else if (rest.substr(0, 14) == "mongodb+srv://") { rest.remove_prefix(14); srv = true; }
  else bad("it must start with mongodb:// or mongodb+srv://");
  for (char c : rest)
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      bad("it contains white space or a control character; percent-encode it");
  // The userinfo ends at the last '@'; a '/' or '?' before it means the password holds one unencoded
  // (or an '@' follows the host), and a second '@' an unencoded '@'.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    if (userinfo.find_first_of("@/?") != std::string_view::npos)
      bad("the user name or password holds an unencoded '@', '/' or '?'; percent-encode them (%40, %2F, %3F)");
    for (size_t i = 0; i < userinfo.size(); ++i)
      if (userinfo[i] == '%' && (i + 2 >= userinfo.size() || !std::isxdigit(static_cast<unsigned char>(userinfo[i + 1])) ||
                                 !std::isxdigit(static_cast<unsigned char>(userinfo[i + 2]))))
        bad("the user name or password holds a '%' that is not a percent-encoding; write it as %25");
    if (userinfo.empty() || userinfo.front() == ':') bad("the user name is empty");
    rest.remove_prefix(at + 1);
  }
  const auto slash = rest.find_first_of("/?");
  const auto hosts = rest.substr(0, slash);
  if (hosts.empty()) bad("no host");
  const auto list = split_list(hosts);
  if (list.size() != static_cast<size_t>(std::count(hosts.begin(), hosts.end(), ',') + 1)) bad("an empty host in the host list");
  if (srv && list.size() != 1) bad("mongodb+srv:// takes exactly one host name");
  for (const auto& host : list) {
    std::string_view h(host), port;
    if (h.front() == '[') {
      const auto close = h.find(']');
      if (close == std::string_view::npos) bad(fmt::format("host '{}' opens '[' without closing it", host));
      if (close + 1 < h.size()) {
        if (h[close + 1] != ':') bad(fmt::format("host '{}': expected ':' after ']'", host));
        port = h.substr(close + 2);
        if (port.empty()) bad(fmt::format("host '{}' has an empty port", host));
      }
    } else if (const auto colon = h.rfind(':'); colon != std::string_view::npos) {
      port = h.substr(colon + 1);
      if (colon == 0) bad(fmt::format("host '{}' has no name", host));
      if (port.empty()) bad(fmt::format("host '{}' has an empty port", host));
    }
    if (!port.empty()) {
      if (srv) bad("mongodb+srv:// takes a host name without a port");
      const auto n = parse_int(port);
      if (!n || *n < 1 || *n > 65535 || port.find_first_not_of("0123456789") != std::string_view::npos)
        bad(fmt::format("the port of host '{}' is not a number from 1 to 65535", host));
    }
  }
  if (slash != std::string_view::npos) {
    auto tail = rest.substr(slash);
    if (tail.front() == '/') tail.remove_prefix(1);
    const auto q = tail.find('?');
    if (q != std::string_view::npos) {
      for (const auto& option : split_list(tail.substr(q + 1), '&')) {
        const auto eq = option.find('=');
        if (eq == std::string::npos || eq == 0)
          bad(fmt::format("option '{}' is not name=value", redact_uri(option)));
      }
    }
  }
}

void check_write_concern(const std::string& spec, const std::string& where) {
  if (spec == "majority") return;
  if (auto n = parse_int(spec); n && *n >= 0 && *n <= 50 && spec.find_first_not_of("0123456789") == std::string::npos)
    return;
  fail(fmt::format("{}: mongodb.write_concern '{}' is not valid; use \"majority\" or a number of nodes from 0 to 50",
                   where, spec));
}

void check_mongo_database(const std::string& name, const std::string& where) {
  if (name.size() > 63) fail(fmt::format("{}: MongoDB database name '{}' is longer than 63 bytes; choose a shorter name", where, name));
  for (char c : std::string_view("/\\. \"$*<>:|?")) {
    if (name.find(c) != std::string::npos)
      fail(fmt::format("{}: MongoDB database name '{}' contains '{}'; choose a name without /\\. \"$*<>:|?", where, name, c));
  }
}

void parse_tables_section(const toml::table& tables, const std::string& file, Config& cfg) {
  for (const auto& [name, node] : tables) {
    const std::string table_name(name.str());
    const auto* t = node.as_table();
    const std::string where = toml_where(file, node);
    if (!t) fail(fmt::format("{}: tables.{} must be a table ([tables.{}])", where, table_name, table_name));
    TableOptions opts;
    for (const auto& [k, v] : *t) {
      const std::string key(k.str());
      const std::string vwhere = toml_where(file, v);
      auto str = [&]() {
        if (!v.is_string()) fail(fmt::format("{}: tables.{}.{} must be a string", vwhere, table_name, key));
        return *v.value<std::string>();
      };
      auto list = [&]() {
        std::vector<std::string> out;
        if (v.is_string()) return split_list(*v.value<std::string>());
        const auto* arr = v.as_array();
        if (!arr) fail(fmt::format("{}: tables.{}.{} must be a list of column names", vwhere, table_name, key));
        for (const auto& el : *arr) {
          if (!el.is_string()) fail(fmt::format("{}: tables.{}.{} must be a list of column names", vwhere, table_name, key));
          out.push_back(*el.value<std::string>());
        }
        return out;
      };
      if (key == "collection") opts.collection = str();
      else if (key == "change_column") opts.change_column = str();
      else if (key == "key_columns") opts.key_columns = list();
      else if (key == "exclude_columns") opts.exclude_columns = list();
      else if (key == "changes") {
        const std::string c = str();
        if (c == "auto") opts.changes = Changes::automatic;
        else if (c == "binlog") opts.changes = Changes::binlog;
        else if (c == "timestamp") opts.changes = Changes::timestamp;
        else fail(fmt::format("{}: tables.{}.changes '{}' is not valid; use auto, binlog or timestamp", vwhere, table_name, c));
      }
      else if (key == "change_zone") {
        opts.change_zone = str();
        if (opts.change_zone.empty() || opts.change_zone.find_first_of("'\\\"`") != std::string::npos)
          fail(fmt::format("{}: tables.{}.change_zone '{}' is not a time zone; use an offset such as \"+01:00\" or a "
                           "name such as \"Europe/Berlin\"", vwhere, table_name, opts.change_zone));
      }
      else if (key == "types") {
        const auto* types = v.as_table();
        if (!types) fail(fmt::format("{}: tables.{}.types must be a table of column = \"type\"", vwhere, table_name));
        for (const auto& [col, tv] : *types) {
          if (!tv.is_string())
            fail(fmt::format("{}: tables.{}.types.{} must be a type name string", toml_where(file, tv), table_name, col.str()));
          opts.types[std::string(col.str())] = *tv.value<std::string>();
        }
      } else {
        fail(fmt::format("{}: unknown key tables.{}.{}; valid keys are collection, change_column, change_zone, "
                         "changes, key_columns, exclude_columns, types",
                         vwhere, table_name, key));
      }
    }
    if (!opts.collection.empty()) {
      if (opts.collection.find('$') != std::string::npos || opts.collection.find('\0') != std::string::npos ||
          opts.collection.rfind("system.", 0) == 0)
        fail(fmt::format("{}: tables.{}.collection '{}' is not a valid MongoDB collection name (no '$', NUL, or "
                         "'system.' prefix)", where, table_name, opts.collection));
    }
    cfg.tables[table_name] = std::move(opts);
  }
}

// Reads the TOML file into raw values, rejecting unknown keys with their line.
void read_toml(const std::string& file, const std::string& what, std::map<std::string, Raw>& raw, Config& cfg) {
  toml::table root;
  const std::string text = read_named_file(file, what, true);
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    if (src.begin.line == 0) fail(fmt::format("{}: cannot read the config file: {}; check --config", file, e.description()));
    fail(fmt::format("{}:{}:{}: {}; fix the TOML syntax", file, src.begin.line, src.begin.column, e.description()));
  }
  for (const auto& [section, node] : root) {
    const std::string sname(section.str());
    const std::string where = toml_where(file, node);
    if (sname == "tables") {
      const auto* t = node.as_table();
      if (!t) fail(fmt::format("{}: tables must be a table of [tables.<name>] sections", where));
      parse_tables_section(*t, file, cfg);
      continue;
    }
    const auto* t = node.as_table();
    if (!t || (sname != "mysql" && sname != "mongodb" && sname != "sync" && sname != "binlog" && sname != "log" &&
               sname != "verify"))
      fail(fmt::format("{}: unknown key '{}'; valid sections are [mysql], [mongodb], [sync], [binlog], [verify], [log], "
                       "[tables.<name>]",
                       where, sname));
    for (const auto& [k, v] : *t) {
      const std::string key = sname + "." + std::string(k.str());
      const std::string vwhere = toml_where(file, v);
      if (key == "mysql.password")
        fail(fmt::format("{}: mysql.password is not accepted in a config file; use mysql.password_file, "
                         "MYSQL_PASSWORD or a systemd credential", vwhere));
      const Setting* s = find_setting(key);
      if (!s) fail(fmt::format("{}: unknown key '{}'; see mysql2mongo.toml(5) for the valid keys", vwhere, key));
      Value value = from_toml(*s, v, vwhere);
      validate(*s, value, vwhere);
      raw[key] = Raw{std::move(value), Rank::toml, vwhere};
    }
  }
}

void set_from_env_like(const std::map<std::string, std::tuple<std::string, std::string>>& vars, Rank rank,
                       std::map<std::string, Raw>& raw) {
  for (const auto& s : settings()) {
    if (s.env.empty()) continue;
    auto it = vars.find(std::string(s.env));
    if (it == vars.end()) continue;
    const auto& [text, where] = it->second;
    // An empty variable counts as unset, as in most shells' ${VAR:-default}.
    if (text.empty() && s.key != "mysql.password") continue;
    Value v = parse_text(s, text, where);
    validate(s, v, where);
    raw[std::string(s.key)] = Raw{std::move(v), rank, where};
  }
}

// A secret that is not a URL (the MySQL password): hidden whole, whatever its case.
void add_secret_forms(std::vector<std::string>& secrets, const std::string& secret) {
  if (secret.empty()) return;
  secrets.push_back(secret);
}

template <typename T>
T get(const std::map<std::string, Raw>& raw, const std::string& key, T fallback) {
  auto it = raw.find(key);
  return it == raw.end() ? fallback : std::get<T>(it->second.value);
}

}  // namespace

std::vector<std::tuple<std::string, std::string, int>> parse_env_file(const std::string& path) {
  return parse_dotenv(path);
}

bool is_flag_setting(const std::string& key) {
  const Setting* s = find_setting(key);
  return s && s->flag;
}

std::map<std::string, std::string> environment_snapshot() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

namespace {

Config load_config(const Inputs& in, std::map<std::string, Raw>& raw, std::vector<std::string>& secrets) {
  Config cfg;

  // 1. The TOML file: the named one must exist; the default one is optional.
  std::string config_file;
  if (in.config_file) {
    config_file = *in.config_file;
    if (!file_exists(config_file))
      fail(fmt::format("--config {}: no such file; check the path", config_file));
  } else if (file_exists(in.default_config_file)) {
    config_file = in.default_config_file;
  }
  if (!config_file.empty()) read_toml(config_file, in.config_file ? "--config" : "config file", raw, cfg);

  // 2. The .env file.
  if (in.env_file) {
    std::map<std::string, std::tuple<std::string, std::string>> vars;
    for (auto& [k, v, line] : parse_dotenv(*in.env_file))
      vars[k] = {v, fmt::format("{}:{} ({})", *in.env_file, line, k)};
    set_from_env_like(vars, Rank::dotenv, raw);
  }

  // 3. The environment.
  {
    std::map<std::string, std::tuple<std::string, std::string>> vars;
    for (const auto& [k, v] : in.environment) vars[k] = {v, fmt::format("{} (environment)", k)};
    set_from_env_like(vars, Rank::env, raw);
  }

  // 4. Flags. A wrong flag value is a usage error (64), like any wrong argument; the same value from a
  // file or the environment is a configuration error (78).
  for (const auto& [key, text] : in.flags) {
    const Setting* s = find_setting(key);
    if (!s || !s->flag) throw Error(Exit::internal, fmt::format("no flag setting named {}", key));
    const std::string where = in.flag_names.count(key) ? in.flag_names.at(key) : fmt::format("--{}", [&] {
      std::string f(key);
      for (auto& c : f) if (c == '.' || c == '_') c = '-';
      return f;
    }());
    try {
      Value v = parse_text(*s, text, where);
      validate(*s, v, where);
      raw[key] = Raw{std::move(v), Rank::flag, where};
    } catch (const Error& e) {
      throw Error(Exit::usage, e.what());
    }
  }
  // What a message must never show, known before anything can fail below.
  if (auto it = raw.find("mysql.password"); it != raw.end())
    add_secret_forms(secrets, std::get<std::string>(it->second.value));
  if (auto it = raw.find("mongodb.url"); it != raw.end())
    for (auto& v : uri_secrets(std::get<std::string>(it->second.value))) secrets.push_back(std::move(v));

  // Secrets: a value and a file for the same secret; the higher-ranked source wins, and setting both at
  // the same level is ambiguous.
  // A secret read from a file joins the list of what messages must not show, before it is checked.
  auto remember = [&](std::string secret, bool is_url) {
    if (is_url) for (auto& v : uri_secrets(secret)) secrets.push_back(std::move(v));
    else add_secret_forms(secrets, secret);
    return secret;
  };
  // An empty password file means "no password" (the units need the file to exist); an empty URL file
  // is a mistake.
  auto resolve_secret = [&](const std::string& value_key, const std::string& file_key,
                            const std::string& credential, bool allow_empty) -> std::optional<std::string> {
    auto v = raw.find(value_key);
    auto f = raw.find(file_key);
    if (v != raw.end() && f != raw.end() && v->second.rank == f->second.rank)
      fail(fmt::format("both {} and {} are set; keep only one", v->second.where, f->second.where));
    if (f != raw.end() && (v == raw.end() || f->second.rank > v->second.rank)) {
      cfg.origin[value_key] = f->second.where;
      return remember(read_secret_file(std::get<std::string>(f->second.value), f->second.where, allow_empty), value_key == "mongodb.url");
    }
    if (v != raw.end()) {
      cfg.origin[value_key] = v->second.where;
      return std::get<std::string>(v->second.value);
    }
    // systemd's LoadCredential= puts secrets in files under $CREDENTIALS_DIRECTORY.
    if (auto cd = in.environment.find("CREDENTIALS_DIRECTORY"); cd != in.environment.end() && !cd->second.empty()) {
      const std::string path = cd->second + "/" + credential;
      if (file_exists(path)) {
        cfg.origin[value_key] = "$CREDENTIALS_DIRECTORY/" + credential;
        return remember(read_secret_file(path, "$CREDENTIALS_DIRECTORY/" + credential, allow_empty), value_key == "mongodb.url");
      }
    }
    return std::nullopt;
  };

  for (const auto& [key, r] : raw) cfg.origin[key] = r.where;
  cfg.origin.erase("mysql.password_file");
  cfg.origin.erase("mongodb.url_file");

  auto& m = cfg.mysql;
  m.host = get<std::string>(raw, "mysql.host", m.host);
  m.port = static_cast<unsigned>(get<std::int64_t>(raw, "mysql.port", m.port));
  m.socket = get<std::string>(raw, "mysql.socket", m.socket);
  m.user = get<std::string>(raw, "mysql.user", m.user);
  if (auto pw = resolve_secret("mysql.password", "mysql.password_file", "mysql_password", true)) {
    m.password = *pw;
    m.has_password = true;
  }
  m.database = get<std::string>(raw, "mysql.database", m.database);
  m.connect_timeout = std::chrono::milliseconds(get<std::int64_t>(raw, "mysql.connect_timeout", m.connect_timeout.count()));
  m.read_timeout = std::chrono::milliseconds(get<std::int64_t>(raw, "mysql.read_timeout", m.read_timeout.count()));
  {
    const auto mode = get<std::string>(raw, "mysql.ssl_mode", "preferred");
    m.ssl_mode = mode == "disabled" ? SslMode::disabled
               : mode == "required" ? SslMode::required
               : mode == "verify_ca" ? SslMode::verify_ca
               : mode == "verify_identity" ? SslMode::verify_identity
               : SslMode::preferred;
  }
  m.ssl_ca = get<std::string>(raw, "mysql.ssl_ca", m.ssl_ca);
  m.ssl_cert = get<std::string>(raw, "mysql.ssl_cert", m.ssl_cert);
  m.ssl_key = get<std::string>(raw, "mysql.ssl_key", m.ssl_key);
  m.option_file = get<std::string>(raw, "mysql.option_file", m.option_file);
  m.option_group = get<std::string>(raw, "mysql.option_group", m.option_group);

  auto& g = cfg.mongodb;
  if (auto url = resolve_secret("mongodb.url", "mongodb.url_file", "mongodb_url", false)) g.url = *url;
  g.database = get<std::string>(raw, "mongodb.database", g.database);
  g.connect_timeout = std::chrono::milliseconds(get<std::int64_t>(raw, "mongodb.connect_timeout", g.connect_timeout.count()));
  g.write_concern = get<std::string>(raw, "mongodb.write_concern", g.write_concern);

  auto& s = cfg.sync;
  s.enabled = get<bool>(raw, "sync.enabled", s.enabled);
  s.interval = std::chrono::milliseconds(get<std::int64_t>(raw, "sync.interval", s.interval.count()));
  s.batch_size = static_cast<int>(get<std::int64_t>(raw, "sync.batch_size", s.batch_size));
  s.batch_bytes = get<std::int64_t>(raw, "sync.batch_bytes", s.batch_bytes);
  s.tables = get<std::vector<std::string>>(raw, "sync.tables", s.tables);
  s.exclude = get<std::vector<std::string>>(raw, "sync.exclude", s.exclude);
  s.include_views = get<bool>(raw, "sync.include_views", s.include_views);
  s.max_delete_fraction = get<double>(raw, "sync.max_delete_fraction", s.max_delete_fraction);
  s.key_as_id = get<bool>(raw, "sync.key_as_id", s.key_as_id);
  s.index_foreign_keys = get<bool>(raw, "sync.index_foreign_keys", s.index_foreign_keys);
  s.collection_prefix = get<std::string>(raw, "sync.collection_prefix", s.collection_prefix);
  s.tinyint1_as_bool = get<bool>(raw, "sync.tinyint1_as_bool", s.tinyint1_as_bool);
  s.zero_date = get<std::string>(raw, "sync.zero_date", "null") == "string" ? ZeroDate::string : ZeroDate::null;
  s.lookback = std::chrono::milliseconds(get<std::int64_t>(raw, "sync.lookback", s.lookback.count()));
  s.reconcile_every = static_cast<int>(get<std::int64_t>(raw, "sync.reconcile_every", s.reconcile_every));
  s.lock_ttl = std::chrono::milliseconds(get<std::int64_t>(raw, "sync.lock_ttl", s.lock_ttl.count()));
  s.jobs = static_cast<int>(get<std::int64_t>(raw, "sync.jobs", s.jobs));
  s.split_rows = get<std::int64_t>(raw, "sync.split_rows", s.split_rows);
  s.unit_ttl = std::chrono::milliseconds(get<std::int64_t>(raw, "sync.unit_ttl", s.unit_ttl.count()));
  s.retry_for = std::chrono::milliseconds(get<std::int64_t>(raw, "sync.retry_for", s.retry_for.count()));
  s.drop_orphans = get<bool>(raw, "sync.drop_orphans", s.drop_orphans);
  {
    const auto c = get<std::string>(raw, "sync.changes", "auto");
    s.changes = c == "binlog" ? Changes::binlog : c == "timestamp" ? Changes::timestamp : Changes::automatic;
  }
  cfg.binlog.server_id = static_cast<std::uint32_t>(get<std::int64_t>(raw, "binlog.server_id", 0));
  cfg.binlog.max_events = get<std::int64_t>(raw, "binlog.max_events", cfg.binlog.max_events);
  cfg.binlog.max_seconds = std::chrono::milliseconds(get<std::int64_t>(raw, "binlog.max_seconds", cfg.binlog.max_seconds.count()));
  cfg.verify.settle = std::chrono::milliseconds(get<std::int64_t>(raw, "verify.settle", cfg.verify.settle.count()));
  cfg.verify.max_keys = static_cast<int>(get<std::int64_t>(raw, "verify.max_keys", cfg.verify.max_keys));

  {
    LogLevel level = cfg.log.level;
    if (auto it = raw.find("log.level"); it != raw.end()) parse_log_level(std::get<std::string>(it->second.value), level);
    cfg.log.level = in.log_level.value_or(level);
    cfg.log.file = get<std::string>(raw, "log.file", cfg.log.file);
  }

  // Cross-checks that need the whole picture.
  auto where = [&](const std::string& key, const std::string& fallback) {
    auto it = cfg.origin.find(key);
    return it == cfg.origin.end() ? fallback : it->second;
  };
  if (m.database.empty() && (in.needs_mysql || g.database.empty()))
    fail(in.needs_mysql
             ? "no MySQL database configured; set MYSQL_DATABASE (environment or --env-file), --mysql-database, or "
               "mysql.database in the config file"
             : "no database configured; set MONGODB_DATABASE or MYSQL_DATABASE (environment or --env-file), or "
               "mongodb.database in the config file");
  {
    // A URL typed as --mongodb-url is a usage error when wrong; from anywhere else, a configuration error.
    auto it = raw.find("mongodb.url");
    const bool from_flag = it != raw.end() && it->second.rank == Rank::flag && !raw.count("mongodb.url_file");
    if (from_flag) cfg.flag_settings.insert("mongodb.url");
    check_mongo_url(g.url, where("mongodb.url", "mongodb.url (default)"), from_flag ? Exit::usage : Exit::config);
  }
  check_write_concern(g.write_concern, where("mongodb.write_concern", "mongodb.write_concern"));
  check_mongo_database(cfg.mongo_database(), where("mongodb.database", where("mysql.database", "mongodb.database")));
  if ((m.ssl_mode == SslMode::verify_ca || m.ssl_mode == SslMode::verify_identity) && m.ssl_ca.empty())
    fail(fmt::format("{}: ssl_mode {} needs a CA to verify against; set mysql.ssl_ca (or MYSQL_SSL_CA)",
                     where("mysql.ssl_mode", "mysql.ssl_mode"), to_string(m.ssl_mode)));
  if (m.ssl_cert.empty() != m.ssl_key.empty())
    fail("mysql.ssl_cert and mysql.ssl_key go together; set both or neither");
  for (const auto& [key, path] : {std::pair{"mysql.ssl_ca", m.ssl_ca}, {"mysql.ssl_cert", m.ssl_cert},
                                  {"mysql.ssl_key", m.ssl_key}, {"mysql.option_file", m.option_file}}) {
    if (path.empty()) continue;
    if (!file_exists(path)) fail(fmt::format("{}: {} does not exist; check the path", where(key, key), path));
    auto it = raw.find(key);
    read_named_file(path, where(key, key) + ":", std::string_view(key) == "mysql.option_file",
                    it != raw.end() && it->second.rank == Rank::flag ? Exit::usage : Exit::config);
  }
  if (m.ssl_mode == SslMode::disabled && !m.ssl_ca.empty())
    fail(fmt::format("{}: ssl_mode is disabled but mysql.ssl_ca is set; choose verify_identity or remove ssl_ca",
                     where("mysql.ssl_mode", "mysql.ssl_mode")));
  cfg.secrets = std::move(secrets);
  return cfg;
}

}  // namespace

Config load(const Inputs& in) {
  std::map<std::string, Raw> raw;
  std::vector<std::string> secrets;
  // The environment's secrets are known before anything is read: a message about any other setting
  // cannot show them either.
  for (const char* name : {"MYSQL_PASSWORD", "MYSQL_PWD"})
    if (auto it = in.environment.find(name); it != in.environment.end()) add_secret_forms(secrets, it->second);
  if (auto it = in.environment.find("MONGODB_URL"); it != in.environment.end())
    for (auto& v : uri_secrets(it->second)) secrets.push_back(std::move(v));
  try {
    return load_config(in, raw, secrets);
  } catch (const Error& e) {
    // Whatever failed, its message goes through the one door, with every secret read so far.
    for (const char* key : {"mysql.password", "mongodb.url"})
      if (auto it = raw.find(key); it != raw.end()) {
        const auto& v = std::get<std::string>(it->second.value);
        if (std::string_view(key) == "mongodb.url") for (auto& f : uri_secrets(v)) secrets.push_back(std::move(f));
        else add_secret_forms(secrets, v);
      }
    throw Error(e.code(), redact(e.what(), secrets));
  }
}

}  // namespace m2m::config
