// libcrypto from OpenSSL 3 (Debian: libssl-dev): SHA-256, HMAC-SHA256, secure random bytes, constant-time compare.
// Only one file in Auth imports this module.
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
