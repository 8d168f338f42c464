// libpq, the reference PostgreSQL client (Debian: libpq-dev). Only PostgresStore imports this module.
#include <postgresql/libpq-fe.h>
