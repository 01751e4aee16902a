#include "util/trust_store.hpp"

#include <openssl/x509.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace m2m {

bool has_hashed_certificates(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() < 10 || name[8] != '.') continue;
    bool hashed = true;
    for (std::size_t i = 0; i < 8 && hashed; ++i) hashed = std::isxdigit(static_cast<unsigned char>(name[i])) != 0;
    for (std::size_t i = 9; i < name.size() && hashed; ++i) hashed = std::isdigit(static_cast<unsigned char>(name[i])) != 0;
    if (hashed) return true;
  }
  return false;
}

namespace {

// Whether the variable is unset or names what OpenSSL would use anyway (some environments export the
// defaults, e.g. SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt for /usr/lib/ssl/cert.pem).
bool unset_or_default(const char* name, const char* default_path) {
  const char* set = std::getenv(name);
  if (!set) return true;
  std::error_code ec;
  return std::filesystem::equivalent(set, default_path, ec) && !ec;
}

}  // namespace

bool skip_default_ca_bundle() {
  const char* file_env = X509_get_default_cert_file_env();
  const char* dir_env = X509_get_default_cert_dir_env();
  if (!unset_or_default(file_env, X509_get_default_cert_file()) ||
      !unset_or_default(dir_env, X509_get_default_cert_dir()))
    return false;
  if (!has_hashed_certificates(X509_get_default_cert_dir())) return false;
  return setenv(file_env, "/dev/null", 1) == 0;
}

}  // namespace m2m
