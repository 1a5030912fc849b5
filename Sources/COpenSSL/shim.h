// libcrypto (already linked for libcurl's HTTPS): SHA-256 and PBKDF2 for fingerprints and stamps.
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP's first use
// initialises the library (reads openssl.cnf, loads its error strings and name maps): 5 million
// instructions, half of a warm start's, for hashing a few hundred bytes. Same code, no set-up.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
