// libcrypto (already linked for libcurl's HTTPS): SHA-256 and PBKDF2 for fingerprints and stamps.
#include <openssl/evp.h>
#include <openssl/crypto.h>
