#include "util/text.hpp"
#include "util/trust_store.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

using namespace m2m;

TEST_CASE("redact_uri hides only the password") {
  CHECK(redact_uri("mongodb://user:pw@host:27017/db?x=1") == "mongodb://user:***@host:27017/db?x=1");
  CHECK(redact_uri("mongodb://user@host") == "mongodb://user@host");
  CHECK(redact_uri("mongodb://host:27017") == "mongodb://host:27017");
  CHECK(redact_uri("mongodb://u:p@ss@h1,h2/?replicaSet=r") == "mongodb://u:***@h1,h2/?replicaSet=r");
  CHECK(redact_uri("not a uri") == "not a uri");
}

namespace {

// Every way a credential can sit in a would-be URL, parsable or not; the secret is always "SeCr3t",
// whole or in pieces.
const std::vector<std::string> kLeakyUrls = {
    "muser:SeCr3t@127.0.0.1:27017/",                       // no scheme
    "mongodb:/muser:SeCr3t@h",                             // half a scheme
    "mongodb://u:SeCr3t@h",                                // plain
    "mongodb://u:Se?Cr3t@h",                               // unencoded '?'
    "mongodb://u:Se/Cr3t@h/db",                            // unencoded '/'
    "mongodb://u:SeCr3t@extra@h",                          // unencoded '@'
    "mongodb://u:Se@Cr3t@more@h:27017",                    // several '@'
    "mongodb://u@SeCr3t@h",                                // '@' where ':' was meant
    "mongodb://u:SeCr3t%40x@h",                            // percent-encoded
    "mongodb://u:SeCr3t@h:notaport/",                      // bad port
    "mongodb+srv://u:SeCr3t@nowhere.invalid/",             // SRV
    "mongodb://h/?tlsCertificateKeyFilePassword=SeCr3t",   // option
    "mongodb://h/?TLSCERTIFICATEKEYFILEPASSWORD=SeCr3t&tls=true",
    "mongodb://h/?password=SeCr3t",
    "mongodb://h/?pass%77ord=SeCr3t",                      // percent-encoded option name
    "mongodb://h/?password%3DSeCr3t",                      // percent-encoded '='
    "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:SeCr3t",
    "mongodb://u:SeCr3t@h/?tlsCertificateKeyFilePassword=SeCr3t",
};

bool holds(const std::string& text, const std::string& secret) {
  return to_lower(text).find(to_lower(secret)) != std::string::npos;
}

}  // namespace

TEST_CASE("redact_uri and redact leave no credential in any malformed URL") {
  for (const auto& url : kLeakyUrls) {
    INFO(url);
    const auto r = redact_uri(url);
    CHECK_FALSE(holds(r, "SeCr3t"));
    CHECK_FALSE(holds(r, "Cr3t"));
    CHECK(r.find("***") != std::string::npos);
    CHECK(redact_uri(r) == r);  // idempotent: a redacted URL passes through the door unchanged
    // The same URL inside any message, in quotes or parentheses, even lower-cased by a resolver.
    for (const auto& message : {"invalid MongoDB URL " + url + " (malformed)", "Failed to resolve '" + url + "'",
                                "error: " + to_lower(url) + "; check MONGODB_URL"}) {
      INFO(message);
      const auto m = redact(message, uri_secrets(url));
      CHECK_FALSE(holds(m, "SeCr3t"));
      CHECK_FALSE(holds(m, "Cr3t"));
    }
  }
  CHECK(redact_uri("muser:SeCr3t@127.0.0.1:27017/") == "muser:***@127.0.0.1:27017/");
  CHECK(redact_uri("mongodb://u:Se?Cr3t@h") == "mongodb://u:***@h");
  CHECK(redact_uri("mongodb://u@SeCr3t@h") == "mongodb://***@h");
  CHECK(redact_uri("mongodb://h/?tlsCertificateKeyFilePassword=SeCr3t&tls=true") ==
        "mongodb://h/?tlsCertificateKeyFilePassword=***&tls=true");
}

TEST_CASE("redact scrubs fragments a driver quotes out of context") {
  // An unencoded '@' makes the driver take the password's tail for a host name, which a resolver
  // prints lower-cased.
  const std::string url = "mongodb://u:Pa55@Wordy9/x@h";
  const auto secrets = uri_secrets(url);
  const auto m = redact("Failed to resolve 'wordy9': Name or service not known", secrets);
  CHECK_FALSE(holds(m, "wordy9"));
  CHECK(m == "Failed to resolve '***': Name or service not known");
  // Percent-decoded forms too.
  CHECK_FALSE(holds(redact("auth failed for p@ss", uri_secrets("mongodb://u:p%40ss@h")), "p@ss"));
  // Words that only look like user names stay.
  CHECK(redact("mail root@example.org about host:1234") == "mail root@example.org about host:1234");
  CHECK(uri_secrets("mongodb://user@h:27017/?tls=true").empty());
}

TEST_CASE("durations parse and format") {
  using std::chrono::milliseconds;
  CHECK(parse_duration("90") == milliseconds(90'000));
  CHECK(parse_duration("1h30m") == milliseconds(5'400'000));
  CHECK(parse_duration("250ms") == milliseconds(250));
  CHECK(parse_duration("2d") == milliseconds(172'800'000));
  CHECK_FALSE(parse_duration("").has_value());
  CHECK_FALSE(parse_duration("5 minutes").has_value());
  CHECK_FALSE(parse_duration("-5s").has_value());
  CHECK(format_duration(milliseconds(240'000)) == "4m");
  CHECK(format_duration(milliseconds(3'720'000)) == "1h2m");
  CHECK(format_duration(milliseconds(350)) == "350ms");
}

TEST_CASE("globs and lists") {
  CHECK(glob_match("film*", "film_actor"));
  CHECK(glob_match("*_log", "audit_log"));
  CHECK_FALSE(glob_match("film*", "actor"));
  CHECK(glob_match("t?", "t1"));
  CHECK(glob_match("t[0-9]", "t5"));
  CHECK_FALSE(glob_match("t[!0-9]", "t5"));
  CHECK(split_list(" a, b,,c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(parse_bool("Yes") == true);
  CHECK(parse_bool("off") == false);
  CHECK_FALSE(parse_bool("maybe").has_value());
  CHECK(parse_int("42") == 42);
  CHECK_FALSE(parse_int("42x").has_value());
  CHECK(iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601_utc(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("glob_match follows fnmatch(3): escapes, POSIX classes, a closing bracket first in a set") {
  CHECK(glob_match("t\\*", "t*"));
  CHECK_FALSE(glob_match("t\\*", "tx"));
  CHECK(glob_match("log_[[:digit:]]", "log_7"));
  CHECK_FALSE(glob_match("log_[[:digit:]]", "log_x"));
  CHECK(glob_match("a[]]b", "a]b"));
  CHECK(glob_match("*.bak", ".bak"));  // no FNM_PERIOD: a table name is not a path
  CHECK(glob_match("a*", "a/b"));      // no FNM_PATHNAME
}

TEST_CASE("the CA bundle is skipped only where a directory holds the CAs under hashed names", "[util][tls]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("m2m-trust-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  CHECK_FALSE(m2m::has_hashed_certificates(dir.string()));  // missing
  fs::create_directories(dir);
  CHECK_FALSE(m2m::has_hashed_certificates(dir.string()));  // empty
  for (const char* name : {"ca-certificates.crt", "README", "5ad8a5d6.x", "5ad8a5d6", "5ad8a5g6.0", "5ad8a5d6.0.pem"})
    std::ofstream(dir / name) << "x";
  CHECK_FALSE(m2m::has_hashed_certificates(dir.string()));  // only names that are not hashes
  std::ofstream(dir / "5ad8a5d6.12") << "x";
  CHECK(m2m::has_hashed_certificates(dir.string()));
  fs::remove_all(dir);
}
