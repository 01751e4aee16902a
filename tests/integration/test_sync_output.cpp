// What a `sync` run writes on stderr, by where stderr goes: the progress display on a terminal only (run
// through a pseudo-terminal, tests/support/pty.hpp), never under a pipe, -q or --json; and sd-daemon
// priority prefixes instead of "mysql2mongo: LEVEL:" under systemd (JOURNAL_STREAM set).
#include "support/net.hpp"
#include "support/pty.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace {

using rig::contains;
using rig::have_script;
using rig::lines_of;
using rig::make_numbered;
using rig::make_unsyncable;
using rig::mysql_down;
using rig::occurrences;
using rig::run_in_pty;
using rig::starts_with;
using rig::visible_lines;
using rig::with_env;

}  // namespace

// ---- progress --------------------------------------------------------------------------------------------

TEST_CASE("progress: nothing of it when stderr is not a terminal", "[sync][progress]") {
  rig::Scratch db("prog");
  make_numbered(db, "big", 60000);
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}, {"TERM", "xterm"}});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"sync", "--full"}, std::vector<std::string>{"-v", "sync", "--full"}}) {
    const auto r = rig::run(args, env);
    INFO("args " << args[0] << " stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find('\r') == std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK_FALSE(contains(r.err, "rows/s"));
    CHECK_FALSE(contains(r.err, "ETA"));
    CHECK(r.out.find('\r') == std::string::npos);
  }
  // Without -v a successful run stays silent, as under cron.
  CHECK(rig::run({"sync", "--full"}, env).err.empty());
}

TEST_CASE("progress: on a terminal, rows done / total, rate and ETA, without escapes under NO_COLOR and "
          "TERM=dumb, none with -q or --json",
          "[sync][progress]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progt");
  make_numbered(db, "big", 60000);
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}, {"TERM", "xterm"}});

  const auto r = run_in_pty({"sync", "--full"}, env);
  INFO("output: " << r.output);
  REQUIRE(r.code == 0);
  CHECK(contains(r.output, "\rbig: "));
  CHECK(contains(r.output, " rows"));
  CHECK(contains(r.output, "rows/s"));
  CHECK(contains(r.output, "\x1b[K"));  // clears what a longer previous line left
  if (occurrences(r.output, "\rbig: ") >= 2) {
    // After the first draw the rate is known: total (InnoDB's estimate), share and ETA.
    CHECK(std::regex_search(r.output, std::regex(R"(big: \d+ / ~\d+ rows \(\d+%\), \d+ rows/s, ETA )")));
  } else {
    WARN("only one progress line was drawn; the ETA form was not checked");
  }
  CHECK(db.count("big") == 60000);

  for (const auto& [var, val] : std::vector<std::pair<std::string, std::string>>{{"NO_COLOR", "1"}, {"TERM", "dumb"}}) {
    const auto plain = run_in_pty({"sync", "--full"}, with_env(env, {{var, val}}));
    INFO(var << "=" << val << " output: " << plain.output);
    REQUIRE(plain.code == 0);
    CHECK(contains(plain.output, "\rbig: "));
    CHECK(plain.output.find('\x1b') == std::string::npos);
  }

  const auto quiet = run_in_pty({"-q", "sync", "--full"}, env);
  INFO("-q output: " << quiet.output);
  REQUIRE(quiet.code == 0);
  CHECK_FALSE(contains(quiet.output, "\rbig: "));
  CHECK_FALSE(contains(quiet.output, "rows/s"));

  const auto js = run_in_pty({"--json", "sync", "--full"}, env);
  INFO("--json output: " << js.output);
  REQUIRE(js.code == 0);
  CHECK_FALSE(contains(js.output, "\rbig: "));
  CHECK_FALSE(contains(js.output, "rows/s"));
  CHECK(contains(js.output, "\"records_synced\": 60000"));
}

// What a terminal finally shows: each line's text after its last carriage return, without the
TEST_CASE("progress: log lines never land on the progress line, each table ends with its final count, and the run "
          "summary closes the run without -v",
          "[sync][progress]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progl");
  make_numbered(db, "big", 60000);
  // No change column: the incremental run warns for each table just before copying it, right after the
  // previous table's progress line; `zlossy` also warns in the middle of its copy.
  db.sql("CREATE TABLE small (id INT PRIMARY KEY); INSERT INTO small SELECT seq FROM seq_1_to_30");
  db.sql("CREATE TABLE zlossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO zlossy SELECT seq, '2020-01-01 00:00:00.123456' FROM seq_1_to_3000");
  for (const auto& term : std::vector<std::map<std::string, std::string>>{{{"TERM", "xterm"}}, {{"TERM", "dumb"}}}) {
    const auto env = with_env(with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}}), term);
    const auto r = run_in_pty({"sync"}, env);
    INFO("TERM=" << term.at("TERM") << " output: " << r.output);
    REQUIRE(r.code == 0);
    const auto lines = visible_lines(r.output);
    for (const auto& line : lines) {
      INFO("visible line: " << line);
      // A warning glued to a progress line, or a progress line left behind.
      CHECK_FALSE((contains(line, "mysql2mongo:") && line.rfind("mysql2mongo:", 0) != 0));
      CHECK_FALSE(contains(line, "rows/s"));
      CHECK_FALSE(contains(line, "~"));
    }
    // Each table's final count on its own line, in order, and the summary last.
    std::vector<std::string> finals;
    for (const auto& line : lines)
      if (std::regex_match(line, std::regex(R"((big|small|zlossy): \d+ rows in \S+\s*)"))) finals.push_back(line.substr(0, line.find(':')));
    CHECK(finals == std::vector<std::string>{"big", "small", "zlossy"});
    CHECK(std::find_if(lines.begin(), lines.end(), [](const auto& l) { return starts_with(l, "big: 60000 rows in "); }) != lines.end());
    CHECK(std::find_if(lines.begin(), lines.end(), [](const auto& l) {
            return starts_with(l, "mysql2mongo: warning: table small: Table has no timestamp columns");
          }) != lines.end());
    REQUIRE_FALSE(lines.empty());
    CHECK(starts_with(lines.back(), "sync success: 3 tables ok, 0 failed, "));
    db.command(R"({"dropDatabase": 1})");
  }
}

// ---- journald --------------------------------------------------------------------------------------------

TEST_CASE("journald: with JOURNAL_STREAM set, log lines carry sd-daemon priority prefixes and no timestamps",
          "[sync][journald]") {
  rig::Scratch db("jrn");
  // No change column (the seed's "falling back to full sync" warning) and a lossy value (a warning).
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, dt DATETIME(6)); INSERT INTO t VALUES (1, '2020-01-01 00:00:00.123456')");
  const auto journal = with_env(db.env(), {{"JOURNAL_STREAM", "1:1"}});
  const std::regex prefixed(R"(<[0-7]>.*)");
  const std::regex timestamp(R"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)");

  const auto r = rig::run({"sync"}, journal);
  INFO("stderr:\n" << r.err);
  REQUIRE(r.code == 0);
  const auto lines = lines_of(r.err);
  REQUIRE_FALSE(lines.empty());
  bool lossy_warning = false;
  for (const auto& line : lines) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
    CHECK_FALSE(std::regex_search(line, timestamp));
    CHECK_FALSE(contains(line, "mysql2mongo:"));
    lossy_warning |= starts_with(line, "<4>table t: column dt: 1 value fractional seconds");
  }
  CHECK(lossy_warning);

  // -v: information at <6>, warnings still at <4>.
  const auto v = rig::run({"-v", "sync", "--full"}, journal);
  INFO("-v stderr:\n" << v.err);
  REQUIRE(v.code == 0);
  CHECK(contains(v.err, "<6>table t: "));
  CHECK(contains(v.err, "<4>table t: column dt"));
  CHECK_FALSE(contains(v.err, "mysql2mongo: info:"));
  CHECK_FALSE(contains(v.err, "mysql2mongo: warning:"));

  // A failing table: its error at <3>.
  make_unsyncable(db, "bad");
  const auto f = rig::run({"sync"}, journal);
  INFO("failing stderr:\n" << f.err);
  REQUIRE(f.code == 3);
  CHECK(contains(f.err, "<3>table bad: "));

  // Without JOURNAL_STREAM: the usual "mysql2mongo: LEVEL: " prefix and no priorities.
  const auto plain = rig::run({"sync", "--full"}, db.env());
  INFO("plain stderr:\n" << plain.err);
  CHECK(contains(plain.err, "mysql2mongo: warning: table t: column dt"));
  CHECK_FALSE(contains(plain.err, "<4>"));
}

TEST_CASE("journald: every stderr line carries a priority, the fatal error and the run summary included",
          "[sync][journald]") {
  rig::Scratch db("jrn2");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  make_unsyncable(db, "bad");
  const auto journal = with_env(db.env(), {{"JOURNAL_STREAM", "1:1"}});
  const std::regex prefixed(R"(<[0-7]>.*)");

  // A run with a failed table prints a summary line on stderr: under journald it needs a priority too,
  // or it is stored at the unit's default (info) and `journalctl -p warning` misses it.
  const auto partial = rig::run({"sync"}, journal);
  INFO("partial stderr:\n" << partial.err);
  REQUIRE(partial.code == 3);
  for (const auto& line : lines_of(partial.err)) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
  }

  // A fatal error (MySQL unreachable, exit 69) is an error: <3>, not "mysql2mongo: error: ".
  const auto fatal = rig::run({"sync"}, with_env(mysql_down(db), {{"JOURNAL_STREAM", "1:1"}}));
  INFO("fatal stderr:\n" << fatal.err);
  REQUIRE(fatal.code == 69);
  CHECK(starts_with(fatal.err, "<3>"));
  for (const auto& line : lines_of(fatal.err)) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
  }
}

TEST_CASE("progress: verify on a terminal draws each table's rows as it reads them, then their count, and prints "
          "its report there even when all is equal",
          "[verify][progress]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progv");
  make_numbered(db, "big", 60000);
  rig::sync_ok(db, {"--full"});
  const auto env = with_env(db.env(), {{"TERM", "xterm"}});
  const auto r = run_in_pty({"verify"}, env);
  INFO("output: " << r.output);
  REQUIRE(r.code == 0);
  CHECK(std::regex_search(r.output, std::regex("\rbig: \\d+ (/ ~\\d+ )?rows")));
  CHECK(contains(r.output, "\x1b[K"));
  const auto lines = visible_lines(r.output);
  REQUIRE(lines.size() == 4);  // the table's final count, then the report: header, table, summary
  CHECK(std::regex_match(lines[0], std::regex(R"(big: 60000 rows compared in \S+)")));
  CHECK(rig::words_of(lines[2]) == std::vector<std::string>{"big", "60000", "60000", "60000", "0", "0", "0", "equal"});
  CHECK(std::regex_match(lines[3], std::regex(R"(verify: 1 tables: 1 equal, 0 different, 0 failed; 0 missing, 0 extra, )"
                                              R"(0 different in \d+\.\ds)")));
  // Not with -q or --json; and under cron (no terminal) an equal verify prints nothing at all.
  for (const char* flag : {"-q", "--json"}) {
    const auto quiet = run_in_pty({flag, "verify"}, env);
    INFO(flag << " output: " << quiet.output);
    REQUIRE(quiet.code == 0);
    CHECK_FALSE(contains(quiet.output, "\rbig: "));
  }
  const auto cron = rig::run({"verify"}, env);
  CHECK(cron.code == 0);
  CHECK(cron.out.empty());
  CHECK(cron.err.empty());
}
