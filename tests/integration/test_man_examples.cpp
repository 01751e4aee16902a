// Every command line in the EXAMPLES section of mysql2mongo(1) runs against the rig and exits 0, with
// the rig's settings standing in for the example's (db1, mongo1, sakila, /etc/mysql2mongo/...), read
// the way the example reads them: exported variables, the env file, the password file. Lines for
// systemd, packaging or the system (systemctl, install, ...) are skipped by a short allow-list, and
// every skipped line is printed; a line of any other kind fails the test, so a new example is either
// run or consciously listed here.
#include "support/rig.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace {

using rig::shell_quote;
using rig::slurp;

// The programs whose example lines need root, systemd or an editor and are not run here.
const std::set<std::string> kSkipped = {"systemctl", "journalctl", "install", "editor", "adduser", "chgrp", "chmod"};

struct Block {
  std::string section;             // the "## ..." heading it is under
  std::vector<std::string> lines;  // as rendered: scdoc's "\\" is "\", continuations joined
};

// The code blocks of the EXAMPLES section.
std::vector<Block> example_blocks(const std::string& page) {
  std::vector<Block> blocks;
  std::istringstream in(page);
  std::string line, section;
  bool in_examples = false, in_code = false;
  Block current;
  std::string pending;
  while (std::getline(in, line)) {
    if (!in_code && line.rfind("# ", 0) == 0) {
      in_examples = line == "# EXAMPLES";
      continue;
    }
    if (!in_examples) continue;
    if (!in_code && line.rfind("## ", 0) == 0) section = line.substr(3);
    if (line.rfind("```", 0) == 0) {
      if (in_code) blocks.push_back(current);
      current = Block{section, {}};
      in_code = !in_code;
      continue;
    }
    if (!in_code) continue;
    std::string rendered;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '\\') ++i;
      rendered += line[i];
    }
    if (!rendered.empty() && rendered.back() == '\\') {
      pending += rendered.substr(0, rendered.size() - 1);
      continue;
    }
    current.lines.push_back(pending + rendered);
    pending.clear();
  }
  return blocks;
}

// An env file as the example describes it, with the rig's values for the settings it names.
std::string rig_env_file(const std::string& example, const std::map<std::string, std::string>& values) {
  std::istringstream in(example);
  std::string line, out;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) {
      out += line + "\n";
      continue;
    }
    const auto key = line.substr(0, eq);
    out += values.count(key) ? key + "=" + values.at(key) + "\n" : line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("man page EXAMPLES: every mysql2mongo command line runs against the rig and exits 0", "[man][examples]") {
  const auto& s = rig::servers();
  rig::Scratch db("ex");
  rig::load_sakila(db);
  db.sql("CREATE TABLE orders (id INT PRIMARY KEY, total DECIMAL(10,2), "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP); "
         "INSERT INTO orders (id, total) VALUES (1, 9.99), (2, 19.99)");

  char tmpl[] = "/tmp/m2m-examples-XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  // `mysql2mongo` on PATH is the binary under test.
  fs::create_directories(dir + "/bin");
  fs::create_symlink(MYSQL2MONGO_BINARY, dir + "/bin/mysql2mongo");
  const std::string password_file = dir + "/mysql_password";
  std::ofstream(password_file) << s.mysql_password << "\n";

  // The example's names -> the rig's.
  std::map<std::string, std::string> values = {
      {"MYSQL_HOST", s.mysql_host},         {"MYSQL_PORT", std::to_string(s.mysql_port)},
      {"MYSQL_USER", s.mysql_user},         {"MYSQL_DATABASE", db.name()},
      {"MONGODB_URL", s.mongodb_url},       {"MONGODB_DATABASE", db.name()},
      {"MYSQL_PASSWORD_FILE", password_file}};
  if (s.tls_ca.empty()) values["MYSQL_SSL_MODE"] = "preferred";
  else values["MYSQL_SSL_CA"] = s.tls_ca;

  const auto page = slurp(std::string(MYSQL2MONGO_SOURCE_DIR) + "/man/mysql2mongo.1.scd");
  const auto blocks = example_blocks(page);
  REQUIRE(blocks.size() >= 8);

  // /etc/mysql2mongo/sync.env, as each part of the page has it: the units' (the shipped example,
  // without the password, which reaches the service as a credential) or cron's (the env file the
  // cron part shows, with MYSQL_PASSWORD_FILE).
  const std::string systemd_env = dir + "/sync.env.systemd", cron_env = dir + "/sync.env.cron";
  std::ofstream(systemd_env) << rig_env_file(slurp(std::string(MYSQL2MONGO_SOURCE_DIR) + "/packaging/sync.env.example"),
                                             values);
  {
    const auto& last = blocks.back();
    REQUIRE(last.section == "cron");
    std::string text;
    for (const auto& l : last.lines) text += l + "\n";
    REQUIRE(text.find("MYSQL_PASSWORD_FILE=") != std::string::npos);
    std::ofstream(cron_env) << rig_env_file(text, values);
  }

  const std::regex cron_line(R"(^(\S+\s+){5}\S+\s+(mysql2mongo\s.*)$)");
  const std::regex assignment(R"(^[A-Z_]+=\S*$)");
  std::map<std::string, std::string> exported;  // `export` lines carry over within a section
  std::string section;
  int ran = 0;
  for (const auto& block : blocks) {
    if (block.section != section) exported.clear();
    section = block.section;
    for (const auto& raw : block.lines) {
      std::string line = raw;
      if (line.empty()) continue;
      if (std::isspace(static_cast<unsigned char>(line[0]))) {
        std::cout << "examples: skipped (unit file content): " << line << "\n";
        continue;
      }
      std::smatch m;
      if (std::regex_match(line, m, cron_line)) line = m[2].str();
      else if (std::regex_match(line, assignment)) {
        std::cout << "examples: skipped (env or crontab file content): " << line << "\n";
        continue;
      }
      if (line.rfind("export ", 0) == 0) {
        std::istringstream words(line.substr(7));
        std::string w;
        while (words >> w) {
          const auto key = w.substr(0, w.find('='));
          INFO("export " << key);
          REQUIRE(values.count(key));  // an exported name this test does not know how to fill in
          exported[key] = values.at(key);
        }
        continue;
      }
      // The program: the first word after any VAR=value prefixes.
      std::istringstream words(line);
      std::string program;
      while (words >> program && std::regex_match(program, assignment)) {}
      if (program != "mysql2mongo") {
        INFO("an example line of an unknown kind (run it here, or add its program to kSkipped): " << line);
        REQUIRE(kSkipped.count(program));
        std::cout << "examples: skipped (" << program << " needs root or systemd): " << line << "\n";
        continue;
      }
      // The example's paths -> the rig's files.
      std::string cmd = line;
      const std::string env_path = "/etc/mysql2mongo/sync.env";
      for (std::size_t p; (p = cmd.find(env_path)) != std::string::npos;)
        cmd.replace(p, env_path.size(), section == "cron" ? cron_env : systemd_env);
      const std::string pw_path = "/etc/mysql2mongo/mysql_password";
      for (std::size_t p; (p = cmd.find(pw_path)) != std::string::npos;) cmd.replace(p, pw_path.size(), password_file);
      // A clean environment: only what the example sets, and where the rig differs from the defaults
      // in a way no example shows (the port), that.
      std::string env = "env -i PATH=" + dir + "/bin:/usr/bin:/bin HOME=/nonexistent";
      if (!exported.count("MYSQL_PORT")) env += " MYSQL_PORT=" + std::to_string(s.mysql_port);
      for (const auto& [k, v] : exported) env += " " + k + "=" + shell_quote(v);
      const std::string out = dir + "/out", err = dir + "/err";
      const int status = std::system((env + " bash -o pipefail -c " + shell_quote(cmd) + " >" + out + " 2>" + err).c_str());
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::cout << "examples: ran (exit " << code << "): " << line << "\n";
      INFO("example: " << line << "\nas run: " << cmd << "\nstdout: " << slurp(out) << "\nstderr: " << slurp(err));
      CHECK(code == 0);
      ++ran;
    }
  }
  CHECK(ran >= 14);
  CHECK(db.count("film") == 1000);
  CHECK(db.count("orders") == 2);
}
