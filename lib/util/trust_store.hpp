// OpenSSL's default trust store, read the cheap way.
#pragma once

#include <string>

namespace m2m {

// OpenSSL's default trust store is a bundle file (Debian: /usr/lib/ssl/cert.pem, about 140 CAs) and a
// directory of the same CAs named by subject hash. Every SSL context that asks for the defaults parses
// the whole bundle at once: 15 to 40 ms per connection on a 2-core machine, and MariaDB Connector/C
// makes a context per connection, even for ssl_mode preferred, which verifies nothing. The directory
// is read lazily, one CA by hash, only when a certificate is verified. So where that directory holds
// the CAs hashed, the bundle is skipped for this process (SSL_CERT_FILE=/dev/null) and verification,
// by MySQL's verify modes or MongoDB's TLS without tlsCAFile, finds the same CAs in the directory.
// Left alone: an SSL_CERT_FILE or SSL_CERT_DIR the user pointed elsewhere than OpenSSL's defaults, and
// a directory without hashed names.
// Call first thing in main, before any thread starts (it calls setenv). Returns whether it did.
bool skip_default_ca_bundle();

// Whether `dir` holds CA certificates under hashed names (8 hex digits, '.', a number), as
// c_rehash / update-ca-certificates make them. Pure file-system check, for the decision above.
bool has_hashed_certificates(const std::string& dir);

}  // namespace m2m
